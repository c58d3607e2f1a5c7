"""A :class:`Batch` to serialized ``tf.train.Example`` records, fast.

The inverse of the decoder: each example becomes one Example holding every
sparse slot as an ``int64_list``, every dense feature and the label as a
one-value ``float_list``, in spec order. Fid varints are encoded for the
whole batch with numpy; per record only precomputed headers and byte slices
are joined. Protobuf and TensorFlow parse the bytes to the same Example (the
map entries are simply in spec order).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monolith.domain.batch import Batch
from monolith.domain.errors import UsageError
from monolith.domain.feature_spec import FeatureSpec


def varint_bytes(value: int) -> bytes:
    """The protobuf varint of ``value`` (negative values as 10 bytes)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _entry_header(key: bytes, kind_tag: int, payload_len: int) -> bytes:
    """Everything of one map entry before the packed payload."""
    if payload_len:
        inner = b"\x0a" + varint_bytes(payload_len)
    else:
        inner = b""
    feature = bytes([kind_tag]) + varint_bytes(len(inner) + payload_len) + inner
    value_len = len(feature) + payload_len
    body = b"\x0a" + varint_bytes(len(key)) + key + b"\x12" + varint_bytes(value_len)
    body_len = len(body) + len(feature) + payload_len
    return b"\x0a" + varint_bytes(body_len) + body + feature


def encode_varints(
    values: npt.NDArray[np.int64],
) -> tuple[bytes, npt.NDArray[np.int64]]:
    """All varints of ``values`` back to back, and the byte length of each."""
    u = values.astype(np.int64).view(np.uint64)
    n = u.size
    lengths = np.ones(n, dtype=np.int64)
    for k in range(1, 10):
        lengths += u >= np.uint64(1 << (7 * k))
    shifts = (np.arange(10, dtype=np.uint64) * np.uint64(7))[None, :]
    groups = ((u[:, None] >> shifts) & np.uint64(0x7F)).astype(np.uint8)
    cols = np.arange(10)[None, :]
    groups[cols < (lengths[:, None] - 1)] |= np.uint8(0x80)
    flat = groups[cols < lengths[:, None]]
    return flat.tobytes(), lengths


class ExampleEncoder:
    """Serializes batches as Examples laid out by ``spec``."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self._keys = [name.encode() for name in spec.sparse]
        self._float_headers = [
            _entry_header(name.encode(), 0x12, 4) for name in [*spec.dense, spec.label]
        ]
        self._cache: list[dict[int, bytes]] = [{} for _ in spec.sparse]

    def _sparse_header(self, slot: int, payload_len: int) -> bytes:
        cache = self._cache[slot]
        header = cache.get(payload_len)
        if header is None:
            header = _entry_header(self._keys[slot], 0x1A, payload_len)
            cache[payload_len] = header
        return header

    def encode(self, batch: Batch) -> list[bytes]:
        """One serialized Example per row of ``batch``."""
        spec = self.spec
        n = batch.size
        if batch.dense.shape != (n, len(spec.dense)):
            raise UsageError(
                f"batch dense has shape {batch.dense.shape}, expected "
                f"({n}, {len(spec.dense)}) for dense features {list(spec.dense)!r}"
            )
        slot_bytes: list[bytes] = []
        slot_offsets: list[list[int]] = []
        for name in spec.sparse:
            ragged = batch.sparse[name]
            data, lengths = encode_varints(ragged.values)
            offsets = np.zeros(lengths.size + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            slot_bytes.append(data)
            slot_offsets.append(offsets[ragged.row_splits].tolist())
        floats = np.empty((n, len(spec.dense) + 1), dtype="<f4")
        floats[:, : len(spec.dense)] = batch.dense
        floats[:, -1] = batch.label
        float_bytes = floats.tobytes()
        width = 4 * floats.shape[1]
        headers = self._float_headers
        out: list[bytes] = []
        for row in range(n):
            parts: list[bytes] = []
            for slot, (data, bounds) in enumerate(
                zip(slot_bytes, slot_offsets, strict=True)
            ):
                a, b = bounds[row], bounds[row + 1]
                parts.append(self._sparse_header(slot, b - a))
                parts.append(data[a:b])
            base = row * width
            for k, header in enumerate(headers):
                parts.append(header)
                parts.append(float_bytes[base + 4 * k : base + 4 * k + 4])
            body = b"".join(parts)
            out.append(b"\x0a" + varint_bytes(len(body)) + body)
        return out
