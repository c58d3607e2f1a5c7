"""Scalar summaries as TensorBoard event files, without TensorFlow.

Uses tensorboard's own ``EventFileWriter`` and protos, so TensorBoard (or
anything that reads ``events.out.tfevents.*``) can plot what training logs.
"""

from __future__ import annotations

import logging
import time

from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from monolith.domain.errors import StorageError

logger = logging.getLogger(__name__)


class EventFileScalarWriter:
    """Writes scalars into ``<logdir>/events.out.tfevents.*``.

    Backend: ``tensorboard.summary.writer.event_file_writer``. Config: the
    log directory only (the estimator uses ``<model_dir>/events``).

    Warning:
        Local paths only; the writer thread flushes every ``flush_secs`` and
        on :meth:`flush` / :meth:`close`.
    """

    def __init__(self, logdir: str, flush_secs: float = 30.0) -> None:
        try:
            self._writer = EventFileWriter(logdir, flush_secs=flush_secs)
        except OSError as exc:
            raise StorageError(
                f"cannot write TensorBoard events into {logdir!r}: {exc}"
            ) from exc
        self.logdir = logdir

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        """Record ``value`` for ``tag`` at global step ``step``."""
        summary = summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))]
        )
        event = event_pb2.Event(wall_time=time.time(), step=step, summary=summary)
        self._writer.add_event(event)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
