"""A collisionless embedding table: int64 fid -> row of floats, with its optimizer.

Every distinct fid gets its own row (no hashing into shared buckets). The
table keeps row-aligned arrays beside a :class:`HashIndex`: weights
``[rows, width]``, optimizer state ``[rows, state_columns]``, the last-update
time (uint32 seconds) and the version of the last update (uint32) of each row.
Row arrays grow in place by a factor of :data:`ROW_GROWTH` (``ndarray.resize``,
which reallocates without copying large blocks on Linux), so a growing table
never rebuilds its values.

Not thread-safe: the parameter store serialises calls per shard.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from monolith.domain.embedding.config import TableConfig
from monolith.domain.embedding.hash_index import HashIndex
from monolith.domain.embedding.initializers import initial_rows
from monolith.domain.embedding.occurrence_filter import OccurrenceFilter
from monolith.domain.embedding.optimizers import make_optimizer
from monolith.domain.embedding.row_ops import (
    as_block,
    gather_rows,
    has_duplicates,
    scatter_rows,
    strictly_increasing,
    sum_by_row,
)
from monolith.domain.embedding.table_arrays import TableArrays, TableViews
from monolith.domain.errors import UsageError

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]
UInt32Array = npt.NDArray[np.uint32]

ROW_GROWTH = 1.05
"""Factor by which the row arrays grow when they run out of rows."""

SECONDS_PER_DAY = 86400.0


def _as_fids(fids: npt.ArrayLike) -> Int64Array:
    array = np.ascontiguousarray(fids, dtype=np.int64)
    if array.ndim != 1:
        raise UsageError(f"fids must be 1-D, got shape {array.shape}")
    return array


def _as_stamp(timestamp: float) -> np.uint32:
    return np.uint32(min(max(int(timestamp), 0), 0xFFFFFFFF))


class EmbeddingTable:
    """One shard of one embedding table."""

    def __init__(self, config: TableConfig, expected_rows: int = 0) -> None:
        self.config = config
        self.width = config.width
        self.optimizer = make_optimizer(config.optimizer)
        self._state_columns = self.optimizer.state_columns(self.width)
        self._index = HashIndex(expected_rows)
        capacity = max(expected_rows, 64)
        self._values = np.zeros((capacity, self.width), dtype=np.float32)
        self._state = np.zeros((capacity, self._state_columns), dtype=np.float32)
        self._stamps = np.zeros(capacity, dtype=np.uint32)
        self._versions = np.zeros(capacity, dtype=np.uint32)
        self._filter = (
            OccurrenceFilter(config.occurrence_threshold)
            if config.occurrence_threshold > 0
            else None
        )

    def __len__(self) -> int:
        return len(self._index)

    @property
    def occurrence_filter(self) -> OccurrenceFilter | None:
        """The filter of new fids, or None when the threshold is 0."""
        return self._filter

    @property
    def nbytes(self) -> int:
        """Bytes held by the index and the row arrays (not the filter)."""
        arrays = (self._values, self._state, self._stamps, self._versions)
        return self._index.nbytes + sum(int(a.nbytes) for a in arrays)

    def lookup(self, fids: npt.ArrayLike) -> Float32Array:
        """Rows ``[len(fids), width]``; zeros for fids not in the table."""
        keys = _as_fids(fids)
        rows = self._index.find(keys)
        out = np.take(self._values, rows, axis=0)
        missing = rows < 0
        if missing.any():
            out[missing] = 0.0
        return out

    def contains(self, fids: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each fid has a row."""
        return np.asarray(self._index.find(_as_fids(fids)) >= 0)

    def apply_gradients(
        self,
        fids: npt.ArrayLike,
        grads: npt.ArrayLike,
        step: int,
        timestamp: float,
        version: int = 0,
    ) -> None:
        """Filter new fids, sum duplicate gradients, run the optimizer in place.

        Occurrences of fids not in the table go through the occurrence filter
        one by one; those that pass insert their fid (initialised rows) and
        contribute their gradient, the others are dropped. Gradients of the
        same fid are then summed and the optimizer runs once per distinct row.

        Args:
            fids: ``[N]`` fids, duplicates allowed.
            grads: ``[N, width]`` gradients aligned with ``fids``.
            step: Global step (Adam's bias correction).
            timestamp: Update time in seconds, stored per row (uint32).
            version: Version stamped on the updated rows, for ``touched_since``.

        Raises:
            UsageError: When shapes do not match.
        """
        keys = _as_fids(fids)
        values = np.ascontiguousarray(grads, dtype=np.float32)
        if values.shape != (keys.shape[0], self.width):
            raise UsageError(
                f"grads for table {self.config.name!r} must have shape "
                f"{(keys.shape[0], self.width)}, got {values.shape}"
            )
        rows, keys, values = self._admit(keys, values)
        if rows.shape[0] == 0:
            return
        block = as_block(rows)
        if block is not None:
            # Consecutive rows in order (a growing table's new rows): distinct,
            # and the optimizer updates the table's own memory in place.
            self.optimizer.update(self._values[block], self._state[block], values, step)
            self._stamps[block] = _as_stamp(timestamp)
            self._versions[block] = np.uint32(version)
            return
        if strictly_increasing(keys):
            # Distinct keys have distinct rows (np.unique output, the common
            # case): nothing to sum, no duplicate check needed.
            unique_rows, summed = rows, values
        else:
            unique_rows, summed = sum_by_row(rows, values)
        weights = gather_rows(self._values, unique_rows)
        state = gather_rows(self._state, unique_rows)
        self.optimizer.update(weights, state, summed, step)
        scatter_rows(self._values, unique_rows, weights)
        scatter_rows(self._state, unique_rows, state)
        np.put(self._stamps, unique_rows, _as_stamp(timestamp))
        np.put(self._versions, unique_rows, np.uint32(version))

    def assign(
        self,
        fids: npt.ArrayLike,
        rows: npt.ArrayLike,
        timestamp: float,
        version: int = 0,
    ) -> None:
        """Overwrite the weights of ``fids`` (inserting them, no filter).

        A fid given twice keeps its last row. Optimizer state of existing rows
        is kept; new rows get the optimizer's initial state.
        """
        keys = _as_fids(fids)
        values = np.ascontiguousarray(rows, dtype=np.float32)
        if values.shape != (keys.shape[0], self.width):
            raise UsageError(
                f"rows for table {self.config.name!r} must have shape "
                f"{(keys.shape[0], self.width)}, got {values.shape}"
            )
        index = self._rows_inserting(keys)
        if has_duplicates(index):
            # Keep the last row given for a fid, as fancy assignment does.
            self._values[index] = values
        else:
            scatter_rows(self._values, index, values)
        np.put(self._stamps, index, _as_stamp(timestamp))
        np.put(self._versions, index, np.uint32(version))

    def _admit(
        self, keys: Int64Array, values: Float32Array
    ) -> tuple[Int64Array, Int64Array, Float32Array]:
        rows = self._index.find(keys)
        missing = rows < 0
        if not missing.any():
            return rows, keys, values
        if self._filter is not None:
            keep = ~missing
            keep[missing] = self._filter.admit(keys[missing])
            if not keep.all():
                rows, keys, values = rows[keep], keys[keep], values[keep]
                missing = rows < 0
        if missing.any():
            rows[missing] = self._insert_missing(keys[missing])
        return rows, keys, values

    def _rows_inserting(
        self, keys: Int64Array, distinct: bool = False, initialise: bool = True
    ) -> Int64Array:
        rows = self._index.find(keys)
        missing = rows < 0
        if missing.any():
            rows[missing] = self._insert_missing(keys[missing], distinct, initialise)
        return rows

    def _insert_missing(
        self, keys: Int64Array, distinct: bool = False, initialise: bool = True
    ) -> Int64Array:
        """Rows for absent ``keys``, inserting each once.

        ``distinct`` says the caller knows ``keys`` has no duplicates;
        ``initialise=False`` leaves the new rows for the caller to fill.
        """
        if distinct or not has_duplicates(keys):
            # The O(n) check spares the sort of np.unique: new fids mostly
            # arrive distinct (a batch's unique fids, a growing table).
            new_keys, inverse = keys, np.arange(keys.shape[0])
        else:
            new_keys, inverse = np.unique(keys, return_inverse=True)
        first = len(self._index)
        self._reserve(first + new_keys.shape[0])
        new_rows = self._index.insert_new(new_keys)
        end = first + new_keys.shape[0]
        if not initialise:
            return new_rows[inverse.reshape(-1)]
        initial = initial_rows(self.config.initializer, new_keys, self.width)
        if self.config.has_bias:
            initial[:, 0] = 0.0
        self._values[first:end] = initial
        self._state[first:end] = self.optimizer.initial_state(
            new_keys.shape[0], self.width
        )
        return new_rows[inverse.reshape(-1)]

    def _reserve(self, rows: int) -> None:
        capacity = self._stamps.shape[0]
        if rows <= capacity:
            return
        capacity = max(rows, int(capacity * ROW_GROWTH) + 64)
        self._values.resize((capacity, self.width), refcheck=False)
        self._state.resize((capacity, self._state_columns), refcheck=False)
        self._stamps.resize(capacity, refcheck=False)
        self._versions.resize(capacity, refcheck=False)

    def touched_since(self, version: int) -> tuple[Int64Array, Float32Array]:
        """Fids whose last update carried a version above ``version``, with rows."""
        size = len(self._index)
        picked = np.flatnonzero(self._versions[:size] > version)
        if picked.size == 0:
            return np.zeros(0, np.int64), np.zeros((0, self.width), np.float32)
        keys = self._index.row_keys()[picked]
        return keys, self._values[picked]

    def _unexpired(self) -> Int64Array | None:
        """Rows to keep at save time, or None when every row is kept."""
        size = len(self._index)
        if not size:
            return None
        stamps = self._stamps[:size]
        horizon = self.config.expire_days * SECONDS_PER_DAY
        newest = float(stamps.max())
        if newest - float(stamps.min()) < horizon:
            return None
        keep = np.flatnonzero(newest - stamps.astype(np.float64) < horizon)
        logger.info(
            "expired rows dropped table=%s dropped=%d kept=%d",
            self.config.name,
            size - keep.size,
            keep.size,
        )
        return keep

    def export(self, drop_expired: bool = True) -> TableArrays:
        """Copies of every row, minus expired ones when ``drop_expired``.

        A row expires when ``max_timestamp - its_timestamp >=
        expire_days * 86400``, so ``expire_days = 0`` exports nothing.
        """
        size = len(self._index)
        keys = self._index.row_keys()
        keep = self._unexpired() if drop_expired else None
        if keep is not None:
            return TableArrays(
                keys[keep],
                self._values[keep],
                self._state[keep],
                self._stamps[keep],
            )
        return TableArrays(
            keys,
            self._values[:size].copy(),
            self._state[:size].copy(),
            self._stamps[:size].copy(),
        )

    def snapshot_views(self) -> TableViews | None:
        """Views of every row and the index slots, or None when a row expired
        (then :meth:`export` gives the kept rows).

        The key of each row is left to the caller (:func:`row_keys_of` on the
        slots), so the scatter building them can run beside the writes of the
        other arrays.
        """
        if self._unexpired() is not None:
            return None
        size = len(self._index)
        return TableViews(
            size,
            self._values[:size],
            self._state[:size],
            self._stamps[:size],
            self._index.slots,
        )

    def adopt(self, saved: TableViews) -> None:
        """Take over ``saved``'s arrays and slot array as this empty table's rows.

        The occurrence filter is left as it is. The arrays must own their
        memory (they grow in place later) and be row-aligned with the slots,
        as :meth:`snapshot_views` gives them.

        Raises:
            UsageError: When the table is not empty or shapes disagree.
        """
        if len(self._index):
            raise UsageError(f"table {self.config.name!r} must be empty to adopt rows")
        count = saved.rows
        self._check_shapes(saved, count)
        try:
            index = HashIndex.adopt(saved.slots, count)
        except ValueError as exc:
            raise UsageError(
                f"index of table {self.config.name!r} is invalid: {exc}"
            ) from exc
        self._index = index
        self._values = saved.values
        self._state = saved.state
        self._stamps = saved.timestamps
        self._versions = np.zeros(count, dtype=np.uint32)
        if count == 0:
            self._reserve(64)

    def _check_shapes(self, arrays: TableArrays | TableViews, count: int) -> None:
        expected = {
            "values": (count, self.width),
            "state": (count, self._state_columns),
            "timestamps": (count,),
        }
        for name, shape in expected.items():
            actual = getattr(arrays, name).shape
            if actual != shape:
                raise UsageError(
                    f"{name} for table {self.config.name!r} must have shape "
                    f"{shape}, got {actual}"
                )

    def load(self, arrays: TableArrays, version: int = 0) -> None:
        """Insert or overwrite rows from ``arrays`` (restore), state included.

        The keys of ``arrays`` must be distinct (as :meth:`export` writes them).
        """
        keys = _as_fids(arrays.keys)
        self._check_shapes(arrays, keys.shape[0])
        if len(self._index) == 0:
            # Restore into an empty table: rows come out as 0..n-1, in order.
            self._rows_inserting(keys, distinct=True, initialise=False)
            count = keys.shape[0]
            self._values[:count] = arrays.values
            self._state[:count] = arrays.state
            self._stamps[:count] = arrays.timestamps
            self._versions[:count] = np.uint32(version)
            return
        rows = self._rows_inserting(keys, distinct=True, initialise=False)
        scatter_rows(self._values, rows, arrays.values)
        scatter_rows(self._state, rows, arrays.state)
        np.put(self._stamps, rows, arrays.timestamps)
        np.put(self._versions, rows, np.uint32(version))
