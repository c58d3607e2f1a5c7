"""Scalar summaries as TensorBoard event files, written through the storage port.

Records are framed by tensorboard's ``RecordWriter`` (TFRecord framing with
masked CRC-32C) around its ``Event`` protos; nothing here imports TensorFlow,
and the files can live on any :class:`~monolith.ports.storage.FileSystem`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

from monolith.domain.errors import StorageError
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)


class EventFileScalarWriter:
    """Writes scalars into ``<logdir>/events.out.tfevents.<time>.<host>.<pid>``.

    Backend: tensorboard's record writer and event protos. Config: the log
    directory (the estimator uses ``<model_dir>/events``) and the storage.

    Warning:
        Events are buffered by the file object until :meth:`flush` or
        :meth:`close`; a killed process may lose the last unflushed scalars.
        Thread-safe.
    """

    def __init__(self, fs: FileSystem, logdir: str) -> None:
        name = (
            f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}."
            f"{os.getpid()}"
        )
        self.path = f"{logdir.rstrip('/')}/{name}"
        self._lock = threading.Lock()
        try:
            fs.makedirs(logdir)
            self._writer = RecordWriter(fs.open(self.path, "wb"))
        except OSError as exc:
            raise StorageError(
                f"cannot write TensorBoard events into {logdir!r}: {exc}"
            ) from exc
        self._write(
            event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
        )

    def _write(self, event: event_pb2.Event) -> None:
        with self._lock:
            self._writer.write(event.SerializeToString())

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        """Record ``value`` for ``tag`` at global step ``step``."""
        summary = summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))]
        )
        self._write(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def flush(self) -> None:
        with self._lock:
            self._writer.flush()

    def close(self) -> None:
        with self._lock:
            if not self._writer.closed:
                self._writer.close()
