"""Occurrence filter: admit a new fid on its (T+1)-th sighting.

A counting filter in the spirit of the original's ``sliding_hash_filter``:
4-bit saturating counters (max 15), packed two per byte, addressed by two
independent hashes of the fid; a fid's count is the smaller of its two
counters (count-min), so a collision can only make a fid look older, never
younger. Only fids not yet in the table are shown to the filter.

Counting is per occurrence: in a batch where a new fid appears ``k`` times
and its count before the batch is ``c``, its ``j``-th occurrence (from 0) sees
count ``c + j`` and passes when that is at least T. A fid whose count reached
15 passes any threshold up to 15.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MAX_COUNT = 15
DEFAULT_COUNTERS = 1 << 22

_HASHES = (
    (np.uint64(0x243F6A8885A308D3), np.uint64(0x9E3779B97F4A7C15)),
    (np.uint64(0x13198A2E03707344), np.uint64(0xC2B2AE3D27D4EB4F)),
)


class OccurrenceFilter:
    """Saturating 4-bit counting filter over int64 fids. Not thread-safe."""

    def __init__(self, threshold: int, counters: int = DEFAULT_COUNTERS) -> None:
        if counters & (counters - 1) or counters < 2:
            raise ValueError(f"counters must be a power of two >= 2, got {counters}")
        self.threshold = threshold
        self._bits = counters.bit_length() - 1
        self.packed = np.zeros(counters // 2, dtype=np.uint8)

    @property
    def nbytes(self) -> int:
        """Bytes held by the counters."""
        return int(self.packed.nbytes)

    def _slots(self, fids: Int64Array) -> list[Int64Array]:
        words = np.ascontiguousarray(fids, dtype=np.int64).view(np.uint64)
        shift = np.uint64(64 - self._bits)
        return [
            (((words ^ salt) * factor) >> shift).view(np.int64)
            for salt, factor in _HASHES
        ]

    def _read(self, slot: Int64Array) -> npt.NDArray[np.uint8]:
        byte = self.packed[slot >> 1]
        odd = (slot & 1).astype(bool)
        return np.asarray(np.where(odd, byte >> 4, byte & 0x0F), dtype=np.uint8)

    def counts(self, fids: Int64Array) -> npt.NDArray[np.uint8]:
        """Current count of each fid (0..15)."""
        first, second = self._slots(fids)
        smaller = np.minimum(self._read(first), self._read(second))
        return np.asarray(smaller, dtype=np.uint8)

    def _add(self, slot: Int64Array, amount: Int64Array) -> None:
        unique, inverse = np.unique(slot, return_inverse=True)
        total = np.bincount(inverse, weights=amount).astype(np.int64)
        for parity in (0, 1):
            pick = (unique & 1) == parity
            where = unique[pick] >> 1
            byte = self.packed[where].astype(np.int64)
            shift = 4 * parity
            old = (byte >> shift) & 0x0F
            new = np.minimum(old + total[pick], MAX_COUNT)
            byte = (byte & ~(0x0F << shift)) | (new << shift)
            self.packed[where] = byte.astype(np.uint8)

    def admit(self, fids: Int64Array) -> BoolArray:
        """Record one sighting per element of ``fids``; say which occurrences pass.

        Args:
            fids: New fids (not in the table), duplicates allowed.

        Returns:
            One flag per element: whether that occurrence passes the threshold.
        """
        if fids.shape[0] == 0:
            return np.zeros(0, dtype=bool)
        unique, inverse, occurrences = np.unique(
            fids, return_inverse=True, return_counts=True
        )
        inverse = inverse.reshape(-1)
        before = self.counts(unique).astype(np.int64)
        order = np.argsort(inverse, kind="stable")
        start = np.repeat(np.cumsum(occurrences) - occurrences, occurrences)
        rank = np.empty(fids.shape[0], dtype=np.int64)
        rank[order] = np.arange(fids.shape[0]) - start
        seen = np.minimum(before[inverse] + rank, MAX_COUNT)
        first, second = self._slots(unique)
        amount = occurrences.astype(np.int64)
        # A fid whose two hashes meet counts once on that counter.
        self._add(
            np.concatenate([first, second]),
            np.concatenate([amount, np.where(second == first, 0, amount)]),
        )
        return np.asarray(seen >= self.threshold)

    def merge(self, packed: npt.NDArray[np.uint8]) -> None:
        """Take the larger count of each counter from another filter's bytes."""
        if packed.shape != self.packed.shape:
            raise ValueError(
                f"filter sizes differ: {packed.shape[0]} bytes, "
                f"expected {self.packed.shape[0]}"
            )
        for shift in (0, 4):
            mine = (self.packed >> shift) & 0x0F
            theirs = (packed >> shift) & 0x0F
            larger = np.maximum(mine, theirs).astype(np.uint8)
            self.packed = (self.packed & ~np.uint8(0x0F << shift)) | (larger << shift)
        self.packed = self.packed.astype(np.uint8)
