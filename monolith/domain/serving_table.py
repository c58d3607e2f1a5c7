"""A read-mostly embedding table for serving: fid -> row at export precision.

Rows stay at the precision they were exported with (float32, float16 or int8
with per-row scales) and are decoded to float32 only for the rows a lookup
gathers. Real-time deltas arrive as float32 rows and are stored at the same
precision. A missing fid reads as a zero row, as in training.

Rows are kept in fid order and found by binary search (``np.searchsorted``):
a lookup is a handful of vectorised calls, and a delta with new fids merges
them in with ``np.insert`` (a copy of the table, fine at sync intervals).

Not thread-safe: the serving use case serialises :meth:`ServingTable.apply`
against lookups (one lock per table), which makes each delta atomic.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monolith.domain.errors import UsageError
from monolith.domain.quantization import QuantizedRows, quantize_rows

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
        order = np.argsort(fids, kind="stable")
        keys = fids[order]
        if keys.shape[0] > 1 and bool((keys[1:] == keys[:-1]).any()):
            raise UsageError(f"table {name}: fids must be distinct")
        self.name = name
        self.bits = rows.bits
        self.width = int(rows.values.shape[1])
        self._keys: Int64Array = keys
        self._values = np.ascontiguousarray(rows.values[order])
        self._scales = (
            None if rows.scales is None else np.ascontiguousarray(rows.scales[order])
        )

    def __len__(self) -> int:
        return int(self._keys.shape[0])

    def _positions(self, fids: Int64Array) -> tuple[Int64Array, npt.NDArray[np.bool_]]:
        pos = self._keys.searchsorted(fids)
        hit = self._keys.take(pos, mode="clip") == fids
        return pos, hit

    def lookup(self, fids: Int64Array) -> Float32Array:
        """Rows ``[len(fids), width]`` as float32; zeros where a fid is absent."""
        if fids.dtype != np.int64:
            fids = np.ascontiguousarray(fids, dtype=np.int64)
        if self._keys.shape[0] == 0 or fids.shape[0] == 0:
            return np.zeros((fids.shape[0], self.width), dtype=np.float32)
        pos = self._keys.searchsorted(fids)
        hit = self._keys.take(pos, mode="clip") == fids
        values = self._values.take(pos, axis=0, mode="clip")
        out: Float32Array
        if self._scales is not None:
            out = values * self._scales.take(pos, mode="clip")[:, None]
        else:
            out = values.astype(np.float32, copy=False)
        if not hit.all():
            out[~hit] = 0.0
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
        fids, rows = reversed_unique, rows[fids.shape[0] - 1 - first]
        encoded = quantize_rows(rows, self.bits)
        if self._keys.shape[0] == 0:
            hit = np.zeros(fids.shape[0], dtype=bool)
            pos = np.zeros(fids.shape[0], dtype=np.int64)
        else:
            pos, hit = self._positions(fids)
        self._values[pos[hit]] = encoded.values[hit]
        if self._scales is not None and encoded.scales is not None:
            self._scales[pos[hit]] = encoded.scales[hit]
        new = ~hit
        if new.any():
            at = np.searchsorted(self._keys, fids[new])
            self._keys = np.insert(self._keys, at, fids[new])
            self._values = np.insert(self._values, at, encoded.values[new], axis=0)
            if self._scales is not None and encoded.scales is not None:
                self._scales = np.insert(self._scales, at, encoded.scales[new])

    def all_rows(self) -> tuple[Int64Array, Float32Array]:
        """Every fid (ascending) and its decoded row."""
        return self._keys.copy(), self.lookup(self._keys)

    def stored_rows(self) -> tuple[npt.NDArray[np.generic], Float32Array | None]:
        """Rows at stored precision and their scales, ordered like :meth:`all_rows`."""
        scales = None if self._scales is None else self._scales.copy()
        return self._values.copy(), scales
