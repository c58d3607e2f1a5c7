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
      caller passes that version back next time (real-time sync).

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
        """Create the tables (idempotent)."""
        ...

    def tables(self) -> list[TableInfo]:
        """Every table with its total row count, sorted by name."""
        ...

    def lookup(self, table: str, fids: Int64Array) -> Float32Array:
        """Rows ``[len(fids), width]`` in the order of ``fids``; zeros if missing."""
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
            step: Global step, for optimizers that use it.
            timestamp: Seconds since the epoch, recorded as last-update time.
        """
        ...

    def init_dense(
        self, params: Mapping[str, Float32Array], optimizer: DenseOptimizerSpec
    ) -> None:
        """Install dense parameters and their optimizer (first call wins)."""
        ...

    def pull_dense(self) -> dict[str, Float32Array]:
        """Current dense parameters (copies)."""
        ...

    def push_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        """Apply one optimizer step to the dense parameters."""
        ...

    def snapshot(self, directory: str) -> list[str]:
        """Write every shard (tables, optimizer state, timestamps, dense) below
        ``directory``; return the files written. Expired rows are dropped."""
        ...

    def restore(self, directory: str) -> None:
        """Replace all state by a snapshot, resharding if it has other shards."""
        ...

    def touched_since(self, table: str, version: int) -> TouchedRows:
        """Fids of ``table`` updated after ``version``, with their rows."""
        ...

    def close(self) -> None:
        """Release connections and threads (idempotent)."""
        ...
