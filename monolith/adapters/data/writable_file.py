"""``WritableFile``: raw appends and EntryDump records on any storage (decision 11).

The file is created (parents too) and truncated on construction. ``append``
writes raw bytes; ``append_entry_dump`` writes one TFRecord per row holding
``EntryDump{id, num=[bias] + embedding}`` (field numbers of the original
Monolith proto), optionally with ``last_update_ts_sec``. Both are
thread-safe. After ``close`` every append raises ``BrokenPipeError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from monolith.adapters.data.tfrecord import frame, iter_records
from monolith.domain.errors import UsageError
from monolith.ports.storage import FileSystem
from monolith.proto import entry_dump_pb2

logger = logging.getLogger(__name__)

_ID_TAG = b"\x09"  # field 1, fixed64
_NUM_TAG = b"\x12"  # field 2, length-delimited (packed floats)
_TS_TAG = b"\x20"  # field 4, varint


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_entry_dumps(
    ids: npt.NDArray[np.int64],
    bias: npt.NDArray[np.float32],
    embedding: npt.NDArray[np.float32],
    last_update_ts_sec: int | None = None,
) -> list[bytes]:
    """Serialized EntryDump messages, one per row (validated shapes)."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    rows = ids.size
    if rows == 0:
        raise UsageError("append_entry_dump needs at least one id, got shape (0,)")
    flat_bias = np.asarray(bias, dtype=np.float32).reshape(-1)
    if flat_bias.size != rows:
        raise UsageError(
            f"append_entry_dump bias has shape {np.shape(bias)}, expected ({rows},) "
            "to match the ids"
        )
    emb = np.asarray(embedding, dtype=np.float32)
    if emb.size % rows != 0 or (emb.ndim == 2 and emb.shape[0] != rows) or emb.ndim > 2:
        raise UsageError(
            f"append_entry_dump embedding has shape {emb.shape}, expected "
            f"({rows}, dim) or a flat array of {rows} * dim floats"
        )
    dim = emb.size // rows
    nums = np.empty((rows, dim + 1), dtype="<f4")
    nums[:, 0] = flat_bias
    nums[:, 1:] = emb.reshape(rows, dim)
    head = _NUM_TAG + _varint(4 * (dim + 1))
    tail = b"" if last_update_ts_sec is None else _TS_TAG + _varint(last_update_ts_sec)
    id_bytes = ids.astype("<i8").tobytes()
    num_bytes = nums.tobytes()
    step = 4 * (dim + 1)
    return [
        b"".join(
            (
                _ID_TAG,
                id_bytes[8 * i : 8 * i + 8],
                head,
                num_bytes[step * i : step * (i + 1)],
                tail,
            )
        )
        for i in range(rows)
    ]


class WritableFile:
    """A file opened for writing through the storage port.

    Args:
        fs: the storage.
        path: the file; parents are created and an existing file truncated.
    """

    def __init__(self, fs: FileSystem, path: str) -> None:
        self.path = path
        self._handle = fs.open(path, "wb")
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def append(self, content: bytes) -> None:
        """Append raw bytes."""
        with self._lock:
            self._check_open()
            self._handle.write(content)

    def append_entry_dump(
        self,
        item_id: Any,
        bias: Any,
        embedding: Any,
        last_update_ts_sec: int | None = None,
    ) -> None:
        """Append one TFRecord per row: ``EntryDump{id, num=[bias] + embedding}``.

        Args:
            item_id: int64 ids, shape ``(B,)``.
            bias: floats, shape ``(B,)``.
            embedding: floats, shape ``(B, D)`` or flat ``B * D``.
            last_update_ts_sec: stored in every row when given.

        Raises:
            UsageError: (a ``ValueError``) naming expected and actual shapes.
            BrokenPipeError: after :meth:`close`.
        """
        with self._lock:
            self._check_open()
        messages = encode_entry_dumps(
            np.asarray(item_id),
            np.asarray(bias),
            np.asarray(embedding),
            last_update_ts_sec,
        )
        data = b"".join(frame(m) for m in messages)
        with self._lock:
            self._check_open()
            self._handle.write(data)

    def _check_open(self) -> None:
        if self._closed:
            raise BrokenPipeError(f"append to {self.path!r} after close")

    def close(self) -> None:
        """Flush and close; later appends raise BrokenPipeError."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._handle.close()

    def __enter__(self) -> WritableFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_entry_dumps(fs: FileSystem, path: str) -> Iterator[entry_dump_pb2.EntryDump]:
    """Every EntryDump record of ``path`` (CRC-checked)."""
    for record in iter_records(fs, path, compression=""):
        yield entry_dump_pb2.EntryDump.FromString(record)
