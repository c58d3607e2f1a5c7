"""TensorBoard event files written through the storage port."""

from __future__ import annotations

import pytest
from tensorboard.compat.proto import event_pb2

from monolith.adapters.data.tfrecord import iter_records
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.adapters.summaries.event_files import EventFileScalarWriter

pytestmark = pytest.mark.unit


def test_scalars_come_back_as_tensorboard_events_with_tags_values_and_steps():
    fs = InMemoryFileSystem()
    writer = EventFileScalarWriter(fs, "memory:///run/events")

    writer.add_scalar("train/loss", 0.5, 10)
    writer.add_scalar("train/auc", 0.75, 20)
    writer.close()

    (path,) = fs.glob("memory:///run/events/events.out.tfevents.*")
    events = [event_pb2.Event.FromString(r) for r in iter_records(fs, path)]
    assert events[0].file_version == "brain.Event:2"
    scalars = [
        (e.summary.value[0].tag, e.summary.value[0].simple_value, e.step)
        for e in events[1:]
    ]
    assert scalars == [("train/loss", 0.5, 10), ("train/auc", 0.75, 20)]


def test_writing_events_does_not_import_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from monolith.adapters.storage.memory import InMemoryFileSystem\n"
        "from monolith.adapters.summaries.event_files import EventFileScalarWriter\n"
        "w = EventFileScalarWriter(InMemoryFileSystem(), 'memory:///e')\n"
        "w.add_scalar('x', 1.0, 1); w.close()\n"
        "assert 'tensorflow' not in sys.modules\n"
    )

    subprocess.run([sys.executable, "-c", code], check=True)
