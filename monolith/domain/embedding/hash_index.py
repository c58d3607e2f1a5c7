"""A growable open-addressing index from int64 fids to dense row numbers.

The index maps every distinct key to its own row (collisionless: two keys never
share a row). Rows are numbered ``0..n-1`` in insertion order and never change,
so value arrays kept beside the index never move when the index grows.

Layout: ``slots`` is a ``[2**bits, 2]`` int64 array; a slot holds
``(key, row + 1)``, or ``(0, 0)`` when empty, so one cache line answers "is
this my key, and where is its row", and a new slot array is plain zeroed
memory (``calloc``: no fill pass, pages appear on first touch). A key's home
slot is a Fibonacci (multiplicative) hash of its 64 bits; collisions probe
linearly. Every operation is vectorised over a batch: each probing round
handles only the keys still unresolved (once few are left, lookups and inserts
probe a window of :data:`PROBE_WINDOW` slots per round), so a batch costs a few
passes of numpy gathers.

Growth doubles ``slots`` and re-inserts the ``(key, row)`` pairs when the load
passes :data:`MAX_LOAD`, which makes inserts and lookups amortised O(1).
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Int64Array = npt.NDArray[np.int64]

MAX_LOAD = 0.7
"""Highest ratio of rows to slots before the slot array doubles."""

PROBE_WINDOW = 8
"""Slots a lookup probes at once once few keys are left (linear probing)."""
WINDOW_BELOW = 256
"""Unresolved keys below which a lookup switches to probing windows."""
PLACE_WINDOW_BELOW = 4096
"""Keys left to place below which an insert probes windows (a window's 8
slots per round instead of one: far fewer rounds of numpy calls for a
small batch, while a large one keeps its cheaper single-slot rounds)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIN_BITS = 4


def _bits_for(rows: int) -> int:
    bits = _MIN_BITS
    while (1 << bits) * MAX_LOAD < rows:
        bits += 1
    return bits


def _empty_slots(bits: int) -> Int64Array:
    return np.zeros((1 << bits, 2), dtype=np.int64)


def row_keys_of(slots: Int64Array, size: int) -> Int64Array:
    """The key of each row ``0..size-1`` of a slot array (:attr:`HashIndex.slots`)."""
    occupied = slots[:, 1] > 0
    keys = np.empty(size, dtype=np.int64)
    keys[slots[occupied, 1] - 1] = slots[occupied, 0]
    return keys


def slots_from_rows(
    keys: Int64Array, where: npt.NDArray[np.integer], count: int
) -> Int64Array:
    """The ``[count, 2]`` slot array holding row ``i`` in slot ``where[i]``
    (how snapshot format 2 saved an index: the slot of each row).

    Raises:
        ValueError: When ``count`` is not a power of two, the arrays differ in
            length or a slot is out of range (:meth:`HashIndex.adopt` then
            catches a slot used twice).
    """
    if count < 2 or count & (count - 1):
        raise ValueError(f"slot count must be a power of two >= 2, got {count}")
    if keys.shape != where.shape or keys.ndim != 1:
        raise ValueError(
            f"keys and slots must be 1-D of one length, got {keys.shape} and "
            f"{where.shape}"
        )
    if where.size and (int(where.min()) < 0 or int(where.max()) >= count):
        raise ValueError(f"row slots must lie in [0, {count})")
    pairs = np.empty((keys.shape[0], 2), dtype=np.int64)
    pairs[:, 0] = keys
    pairs[:, 1] = np.arange(1, keys.shape[0] + 1, dtype=np.int64)
    slots = _empty_slots(count.bit_length() - 1)
    # One 16-byte (key, row + 1) pair per put: one pass of random writes.
    np.put(_pairs(slots), where, _pairs(pairs))
    return slots


def _pairs(array: Int64Array) -> npt.NDArray[np.void]:
    return array.view(np.dtype((np.void, 16))).reshape(-1)


class HashIndex:
    """Collisionless int64 key -> row index with vectorised find and insert.

    Not thread-safe: callers serialise access (the parameter store holds a lock
    per shard).
    """

    def __init__(self, expected_rows: int = 0) -> None:
        self._bits = _bits_for(expected_rows)
        self._slots = _empty_slots(self._bits)
        self._size = 0

    @classmethod
    def adopt(cls, slots: Int64Array, size: int) -> HashIndex:
        """An index over a slot array taken from :attr:`slots` (restore).

        Raises:
            ValueError: When ``slots`` is not ``[2**bits, 2]`` or holds a
                different number of rows than ``size``.
        """
        count = slots.shape[0]
        if slots.ndim != 2 or slots.shape[1] != 2 or count & (count - 1) or count < 2:
            raise ValueError(f"slots must have shape [2**bits, 2], got {slots.shape}")
        occupied = int(np.count_nonzero(slots[:, 1] > 0))
        if occupied != size:
            raise ValueError(f"slots hold {occupied} rows, expected {size}")
        index = cls()
        index._bits = count.bit_length() - 1
        index._slots = np.ascontiguousarray(slots, dtype=np.int64)
        index._size = size
        return index

    def __len__(self) -> int:
        return self._size

    @property
    def slots(self) -> Int64Array:
        """The ``[2**bits, 2]`` slot array of ``(key, row + 1)`` (a view)."""
        return self._slots

    @property
    def nbytes(self) -> int:
        """Bytes held by the slot array."""
        return int(self._slots.nbytes)

    def row_keys(self) -> Int64Array:
        """The key of each row ``0..len-1`` (a new array)."""
        return row_keys_of(self._slots, self._size)

    def _home(self, keys: Int64Array) -> Int64Array:
        hashed = keys.view(np.uint64) * _GOLDEN
        hashed >>= np.uint64(64 - self._bits)
        return hashed.view(np.int64)

    def find(self, keys: Int64Array) -> Int64Array:
        """Row of each key, or -1 where a key is absent. Duplicates allowed."""
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        if keys.shape[0] == 0 or self._size == 0:
            return np.full(keys.shape[0], -1, dtype=np.int64)
        slots = self._slots
        mask = slots.shape[0] - 1
        pos = self._home(keys)
        entries = np.take(slots, pos, axis=0)
        rows = entries[:, 1]
        occupied = rows > 0
        hit = (entries[:, 0] == keys) & occupied
        rows -= 1
        result = np.where(hit, rows, -1)
        pending = np.flatnonzero(occupied & ~hit)
        if pending.size == 0:
            return result
        pending_keys = keys[pending]
        pos = pos[pending]
        while pending.size > WINDOW_BELOW:
            # Many keys left: one slot each per round, each op well amortised.
            pos += 1
            pos &= mask
            entries = np.take(slots, pos, axis=0)
            rows = entries[:, 1]
            occupied = rows > 0
            hit = (entries[:, 0] == pending_keys) & occupied
            result[pending[hit]] = rows[hit] - 1
            more = occupied & ~hit
            pending = pending[more]
            pending_keys = pending_keys[more]
            pos = pos[more]
        # Few keys left: PROBE_WINDOW slots per round, so a small batch pays a
        # round or two of numpy calls instead of one per probe. The first slot
        # of a window that holds the key or is empty settles it.
        steps = np.arange(1, PROBE_WINDOW + 1, dtype=np.int64)
        while pending.size:
            window = np.take(slots, (pos[:, None] + steps) & mask, axis=0)
            rows = window[:, :, 1]
            match = (window[:, :, 0] == pending_keys[:, None]) & (rows > 0)
            stop = match | (rows == 0)
            first = stop.argmax(axis=1)
            settled = stop.any(axis=1)
            at = np.arange(pending.size)
            found = settled & match[at, first]
            result[pending[found]] = rows[at[found], first[found]] - 1
            more = ~settled
            pending = pending[more]
            pending_keys = pending_keys[more]
            pos = pos[more] + PROBE_WINDOW
        return result

    def insert_new(self, keys: Int64Array) -> Int64Array:
        """Give each key (distinct, none present yet) a new row; return the rows.

        Args:
            keys: Distinct keys, none of which is in the index yet.

        Returns:
            The new rows, numbered from ``len(self)`` before the call, in the
            order of ``keys``.
        """
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        first = self._size
        rows = np.arange(first, first + keys.shape[0], dtype=np.int64)
        if keys.shape[0] == 0:
            return rows
        self._size += keys.shape[0]
        if self._size > MAX_LOAD * self._slots.shape[0]:
            self._grow()
        self._place(keys, rows)
        return rows

    def _grow(self) -> None:
        old = self._slots
        occupied = np.flatnonzero(old[:, 1] > 0)
        keys, rows = old[occupied, 0], old[occupied, 1] - 1
        del old, occupied
        self._bits = _bits_for(self._size)
        self._slots = _empty_slots(self._bits)
        logger.debug(
            "hash index grew slots=%d rows=%d", self._slots.shape[0], self._size
        )
        self._place(keys, rows)

    def _place(self, keys: Int64Array, rows: Int64Array) -> None:
        """Write ``(key, row + 1)`` pairs into empty slots."""
        flat = self._slots.reshape(-1)  # slot s is flat[2s] (key), flat[2s+1] (row)
        mask = self._slots.shape[0] - 1
        pos = self._home(keys)
        rows = rows + 1
        while rows.size:
            if rows.size <= PLACE_WINDOW_BELOW:
                self._place_windows(flat, keys, rows, pos)
                return
            row_at = 2 * pos + 1
            empty = np.take(flat, row_at) == 0
            if empty.all():
                target, candidates = row_at, rows
            else:
                target, candidates = row_at[empty], rows[empty]
            # Several rows may aim at one empty slot: the last write wins and
            # the others move on to the next slot.
            np.put(flat, target, candidates)
            won = np.zeros(rows.shape[0], dtype=bool)
            won[empty] = np.take(flat, target) == candidates
            np.put(flat, row_at[won] - 1, keys[won])
            lost = ~won
            if not lost.any():
                return
            keys = keys[lost]
            rows = rows[lost]
            pos = (pos[lost] + 1) & mask

    def _place_windows(
        self,
        flat: Int64Array,
        keys: Int64Array,
        rows: Int64Array,
        pos: Int64Array,
    ) -> None:
        """Place a few ``(key, row + 1)`` pairs, probing :data:`PROBE_WINDOW`
        slots from each ``pos`` per round.

        Each key claims the first empty slot of its window; of several keys
        claiming one slot the last write wins and the others scan on from
        it. Every slot a key skipped was occupied, and slots never empty
        again, so a lookup walking from the key's home meets no empty slot
        before the key.
        """
        mask = self._slots.shape[0] - 1
        steps = np.arange(PROBE_WINDOW, dtype=np.int64)
        while rows.size:
            window = (pos[:, None] + steps) & mask
            free = np.take(flat, 2 * window + 1) == 0
            first = free.argmax(axis=1)
            tried = np.flatnonzero(free[np.arange(rows.size), first])
            slot = window[tried, first[tried]]
            np.put(flat, 2 * slot + 1, rows[tried])
            won = np.take(flat, 2 * slot + 1) == rows[tried]
            np.put(flat, 2 * slot[won], keys[tried[won]])
            # Keys with no free slot move a window on; losers rescan from
            # the slot they lost (now taken).
            pos = pos + PROBE_WINDOW
            pos[tried] = slot
            left = np.ones(rows.size, dtype=bool)
            left[tried[won]] = False
            keys, rows, pos = keys[left], rows[left], pos[left]
