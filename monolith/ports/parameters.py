"""The parameter-store port: sharded embedding tables, plus dense params in PS mode.

A store holds named embedding tables (see
:class:`~monolith.domain.embedding.config.TableConfig`), sharded by
``fid mod num_shards`` (floor modulo, so negative fids land in range).

Semantics every adapter keeps:
    * ``lookup`` never inserts; a missing fid reads as a zero row.
    * ``apply_gradients`` first sums the gradients of duplicate fids, then
      admits new fids through the table's occurrence filter, then runs the
      table's optimizer on the admitted rows.
    * ``create_tables`` and ``init_dense`` are idempotent: the first call
      wins, a later call with the same configs is a no-op, a conflicting
      config raises ParameterStoreError.
    * ``touched_since(table, version)`` returns every fid updated after
      ``version`` with its current row, and the store's current version; a
      caller passes that version back next time (real-time sync). A version is
      an opaque cursor: 0 means "from the beginning"; adapters may pack
      several shard counters into it, so never do arithmetic on it.
    * Rows are ``width = dim + has_bias`` floats; the bias, when present, is
      column 0.
    * Snapshots hold keys, values, optimizer state and last-update
      timestamps as ``.npy`` files with a checksum file per shard; rows idle
      for the table's ``expire_days`` are left out; a snapshot restores onto
      any shard count (rows re-routed by ``fid mod num_shards``).

Errors: :class:`~monolith.domain.errors.ParameterStoreError`; an unreachable
shard raises :class:`~monolith.domain.errors.ShardUnavailableError` naming it.

Thread-safety: every method may be called from several threads at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain.embedding.config import TableConfig
from monolith.domain.model_spec import DenseOptimizerSpec

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]


@attrs.frozen
class TouchedRows:
    """Rows updated since a version: ``fids[i]`` now holds ``rows[i]``."""

    fids: Int64Array
    rows: Float32Array
    version: int


@attrs.frozen
class TableInfo:
    """Size and shape of one table across all shards."""

    name: str
    rows: int
    dim: int


class ParameterStore(Protocol):
    """Sharded embedding tables and, for async PS training, dense parameters."""

    @property
    def num_shards(self) -> int:
        """How many shards the tables are split into."""
        ...

    def create_tables(self, configs: Sequence[TableConfig]) -> None:
        """Create the tables (idempotent).

        Raises:
            ParameterStoreError: A table exists with a different config.
        """
        ...

    def tables(self) -> list[TableInfo]:
        """Every table with its total row count, sorted by name."""
        ...

    def lookup(self, table: str, fids: Int64Array) -> Float32Array:
        """Rows ``[len(fids), width]`` in the order of ``fids``; zeros if missing.

        Never inserts. Duplicated fids get identical rows. The result is a new
        array the caller may modify.

        Raises:
            ParameterStoreError: ``table`` does not exist.
        """
        ...

    def apply_gradients(
        self,
        table: str,
        fids: Int64Array,
        grads: Float32Array,
        step: int,
        timestamp: float,
    ) -> None:
        """Sum duplicate gradients, filter new fids, run the optimizer.

        Args:
            table: Table name.
            fids: ``[N]`` fids, duplicates allowed.
            grads: ``[N, width]`` gradients aligned with ``fids``.
            step: Global step, for optimizers that use it (Adam).
            timestamp: Seconds since the epoch, recorded as last-update time
                (whole seconds; expiry compares these).

        New fids pass the table's occurrence filter one occurrence at a time:
        only occurrences from the (T+1)-th sighting on contribute gradient.

        Raises:
            UsageError: ``grads`` does not have shape ``[len(fids), width]``.
            ParameterStoreError: ``table`` does not exist.
        """
        ...

    def lookup_many(
        self, fids_by_table: Mapping[str, Int64Array]
    ) -> dict[str, Float32Array]:
        """:meth:`lookup` of several tables in one call.

        A training step looks up every table it reads this way: a remote
        store makes one round trip per shard instead of one per table and
        shard. Each result is what :meth:`lookup` would return.

        Raises:
            ParameterStoreError: A table does not exist (nothing is read).
        """
        ...

    def apply_gradients_many(
        self,
        updates: Mapping[str, tuple[Int64Array, Float32Array]],
        step: int,
        timestamp: float,
    ) -> None:
        """:meth:`apply_gradients` of several tables, ``{table: (fids, grads)}``.

        Every table and shape is checked before any table changes; each table
        is then updated as :meth:`apply_gradients` would (one round trip per
        shard on a remote store).

        Raises:
            UsageError: Some ``grads`` is not ``[len(fids), width]``.
            ParameterStoreError: A table does not exist.
        """
        ...

    def init_dense(
        self, params: Mapping[str, Float32Array], optimizer: DenseOptimizerSpec
    ) -> None:
        """Install dense parameters and their optimizer (first call wins).

        A later call with the same names, shapes and optimizer is a no-op
        (the values it carries are ignored).

        Raises:
            ParameterStoreError: Names, shapes or optimizer differ from the
                installed ones.
        """
        ...

    def pull_dense(self) -> dict[str, Float32Array]:
        """Current dense parameters (copies).

        Raises:
            ParameterStoreError: ``init_dense`` was not called.
        """
        ...

    def push_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        """Apply one optimizer step (clipped by global norm) to the dense params.

        ``grads`` may name a subset of the parameters.

        Raises:
            UsageError: A gradient names no parameter or has the wrong shape.
            ParameterStoreError: ``init_dense`` was not called.
        """
        ...

    def snapshot(self, directory: str) -> list[str]:
        """Write every shard (tables, optimizer state, timestamps, dense) below
        ``directory``; return the files written. Expired rows are dropped.

        Each table shard's checksum file is written last, so a shard without
        one is incomplete. Use a fresh directory or the same one as before.
        """
        ...

    def restore(self, directory: str) -> None:
        """Replace all state by a snapshot, resharding if it has other shards.

        Tables not in the snapshot become empty; dense parameters are loaded
        when ``init_dense`` was called first.

        Raises:
            ParameterStoreError: A shard is missing, incomplete, corrupt
                (checksum) or was saved with another width or optimizer.
        """
        ...

    def touched_since(self, table: str, version: int) -> TouchedRows:
        """Fids of ``table`` updated after ``version``, with their current rows.

        Each fid appears once. ``version`` 0 returns everything updated since
        the store started (restored rows count as not updated).
        """
        ...

    def close(self) -> None:
        """Release connections and threads (idempotent)."""
        ...
