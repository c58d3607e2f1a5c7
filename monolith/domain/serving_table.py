"""A read-mostly embedding table for serving: fid -> row at export precision.

Rows stay at the precision they were exported with (float32, float16 or int8
with per-row scales) and are decoded to float32 only for the rows a lookup
gathers. Real-time deltas arrive as float32 rows and are stored at the same
precision. A missing fid reads as a zero row, as in training.

Fids are found by binary search over a sorted key array (deltas merge new
keys into it), which keeps the table independent of the training index.

Not thread-safe: the serving use case serialises :meth:`ServingTable.apply`
against lookups (one lock per table), which makes each delta atomic.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monolith.domain.errors import UsageError
from monolith.domain.quantization import QuantizedRows, dequantize_rows, quantize_rows

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]


class ServingTable:
    """fid -> row lookups over quantized rows, with in-place delta updates."""

    def __init__(self, name: str, fids: Int64Array, rows: QuantizedRows) -> None:
        fids = np.ascontiguousarray(fids, dtype=np.int64)
        if rows.values.ndim != 2 or rows.num_rows != fids.shape[0]:
            raise UsageError(
                f"table {name}: {fids.shape[0]} fids need as many rows, "
                f"got values of shape {rows.values.shape}"
            )
        if np.unique(fids).shape[0] != fids.shape[0]:
            raise UsageError(f"table {name}: fids must be distinct")
        self.name = name
        self.bits = rows.bits
        self.width = int(rows.values.shape[1])
        order = np.argsort(fids, kind="stable")
        self._keys: Int64Array = fids[order]
        self._rows: Int64Array = order.astype(np.int64)
        self._size = int(fids.shape[0])
        self._values = np.array(rows.values, copy=True)
        self._scales = None if rows.scales is None else np.array(rows.scales)

    def __len__(self) -> int:
        return self._size

    def _find(self, fids: Int64Array) -> Int64Array:
        """Row of each fid, or -1 where absent."""
        if self._keys.shape[0] == 0:
            return np.full(fids.shape[0], -1, dtype=np.int64)
        pos = np.searchsorted(self._keys, fids)
        np.minimum(pos, self._keys.shape[0] - 1, out=pos)
        hit = self._keys[pos] == fids
        return np.where(hit, self._rows[pos], -1).astype(np.int64)

    def _insert(self, fids: Int64Array) -> Int64Array:
        """Give distinct absent ``fids`` new rows (``len`` onwards); return them."""
        new_rows = np.arange(self._size, self._size + fids.shape[0], dtype=np.int64)
        order = np.argsort(fids, kind="stable")
        sorted_fids = fids[order]
        at = np.searchsorted(self._keys, sorted_fids)
        self._keys = np.insert(self._keys, at, sorted_fids)
        self._rows = np.insert(self._rows, at, new_rows[order])
        self._size += int(fids.shape[0])
        return new_rows

    def lookup(self, fids: Int64Array) -> Float32Array:
        """Rows ``[len(fids), width]`` as float32; zeros where a fid is absent."""
        positions = self._find(np.ascontiguousarray(fids, dtype=np.int64))
        found = positions >= 0
        out = np.zeros((positions.shape[0], self.width), dtype=np.float32)
        if np.any(found):
            stored = QuantizedRows(self.bits, self._values, self._scales)
            out[found] = dequantize_rows(stored, positions[found])
        return out

    def apply(self, fids: Int64Array, rows: Float32Array) -> None:
        """Set ``fids[i]`` to ``rows[i]`` (inserting new fids); last duplicate wins."""
        fids = np.ascontiguousarray(fids, dtype=np.int64)
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape != (fids.shape[0], self.width):
            raise UsageError(
                f"delta for table {self.name}: rows must be "
                f"[{fids.shape[0]}, {self.width}], got {list(rows.shape)}"
            )
        reversed_unique, first = np.unique(fids[::-1], return_index=True)
        keep = fids.shape[0] - 1 - first
        fids, rows = reversed_unique, rows[keep]
        positions = self._find(fids)
        new = positions < 0
        if np.any(new):
            self._reserve(self._size + int(np.count_nonzero(new)))
            positions[new] = self._insert(fids[new])
        encoded = quantize_rows(rows, self.bits)
        self._values[positions] = encoded.values
        if self._scales is not None and encoded.scales is not None:
            self._scales[positions] = encoded.scales

    def all_rows(self) -> tuple[Int64Array, Float32Array]:
        """Every fid and its decoded row (for tests and inspection)."""
        stored = QuantizedRows(self.bits, self._values, self._scales)
        return self._keys.copy(), dequantize_rows(stored, self._rows)

    def stored_rows(self) -> tuple[npt.NDArray[np.generic], Float32Array | None]:
        """Rows at stored precision and scales, ordered like :meth:`all_rows`."""
        scales = None if self._scales is None else self._scales[self._rows]
        return self._values[self._rows], scales

    def _reserve(self, rows: int) -> None:
        capacity = int(self._values.shape[0])
        if rows <= capacity:
            return
        grown = max(rows, capacity + capacity // 8 + 64)
        values = np.zeros((grown, self.width), dtype=self._values.dtype)
        values[:capacity] = self._values
        self._values = values
        if self._scales is not None:
            scales = np.zeros(grown, dtype=np.float32)
            scales[:capacity] = self._scales
            self._scales = scales
