"""In-process parameter store: N embedding-table shards plus dense parameters."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from monolith.adapters.parameters.dense_slot import DenseSlot
from monolith.adapters.parameters.snapshot import (
    read_dense,
    read_table_parts,
    remove_other_parts,
    save_dense,
    save_table_part,
)
from monolith.domain.embedding.config import TableConfig
from monolith.domain.embedding.table import EmbeddingTable
from monolith.domain.embedding.table_arrays import TableArrays
from monolith.domain.errors import ParameterStoreError, UsageError
from monolith.domain.model_spec import DenseOptimizerSpec
from monolith.domain.sharding import scatter_from_shards, shard_of, split_by_shard
from monolith.ports.parameters import Float32Array, Int64Array, TableInfo, TouchedRows
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)


class _Shard:
    """One shard: its tables behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tables: dict[str, EmbeddingTable] = {}


class LocalParameterStore:
    """Embedding tables sharded in process, routed by ``fid mod num_shards``.

    Backend: numpy :class:`~monolith.domain.embedding.table.EmbeddingTable`
    shards, each behind its own lock, so calls from several threads touching
    different shards run in parallel (numpy releases the GIL in its kernels).
    Dense parameters (PS mode) live behind one more lock with a numpy
    optimizer. Config: ``num_shards`` and ``fs``, the file system snapshots go
    through (required for ``snapshot``/``restore``).

    Versions for ``touched_since`` are one counter per store, bumped by each
    ``apply_gradients`` call. Row versions are uint32: after 2**32 calls they
    wrap.

    Also used as the shard a gRPC parameter server serves: then the store has
    one shard and :meth:`snapshot_part` / :meth:`restore_part` write and read
    it as part ``j`` of ``M``.
    """

    def __init__(self, num_shards: int = 1, fs: FileSystem | None = None) -> None:
        if num_shards < 1:
            raise UsageError(f"num_shards must be >= 1, got {num_shards}")
        self._num_shards = num_shards
        self._fs = fs
        self._shards = [_Shard() for _ in range(num_shards)]
        self._configs: dict[str, TableConfig] = {}
        self._meta_lock = threading.Lock()
        self._version = 0
        self._inflight: set[int] = set()
        self._dense = DenseSlot()
        self._closed = False

    @property
    def num_shards(self) -> int:
        return self._num_shards

    # ------------------------------------------------------------ tables
    def create_tables(self, configs: Sequence[TableConfig]) -> None:
        with self._meta_lock:
            for config in configs:
                existing = self._configs.get(config.name)
                if existing is not None and existing != config:
                    raise ParameterStoreError(
                        f"table {config.name!r} exists with a different config: "
                        f"{existing!r}, requested {config!r}"
                    )
            for config in configs:
                if config.name in self._configs:
                    continue
                if config.dim < 1:
                    raise UsageError(
                        f"table {config.name!r} needs dim >= 1, got {config.dim}"
                    )
                for shard in self._shards:
                    with shard.lock:
                        shard.tables[config.name] = EmbeddingTable(config)
                self._configs[config.name] = config
                logger.info(
                    "table created table=%s dim=%d shards=%d",
                    config.name,
                    config.dim,
                    self._num_shards,
                )

    def tables(self) -> list[TableInfo]:
        infos = []
        for name in sorted(self._configs):
            rows = 0
            for shard in self._shards:
                with shard.lock:
                    rows += len(shard.tables[name])
            infos.append(TableInfo(name, rows, self._configs[name].dim))
        return infos

    def memory_bytes(self) -> int:
        """Bytes held by every table's index and row arrays (filters excluded)."""
        total = 0
        for shard in self._shards:
            with shard.lock:
                total += sum(t.nbytes for t in shard.tables.values())
        return total

    def _config(self, table: str) -> TableConfig:
        config = self._configs.get(table)
        if config is None:
            known = ", ".join(sorted(self._configs)) or "none"
            raise ParameterStoreError(f"no table named {table!r}; known: {known}")
        return config

    def lookup(self, table: str, fids: Int64Array) -> Float32Array:
        self._config(table)
        keys = _fids(fids)
        if self._num_shards == 1:
            shard = self._shards[0]
            with shard.lock:
                return shard.tables[table].lookup(keys)
        positions = split_by_shard(keys, self._num_shards)
        parts = []
        for shard, where in zip(self._shards, positions, strict=True):
            with shard.lock:
                parts.append(shard.tables[table].lookup(keys[where]))
        return np.asarray(scatter_from_shards(parts, positions, keys.shape[0]))

    def lookup_many(
        self, fids_by_table: Mapping[str, Int64Array]
    ) -> dict[str, Float32Array]:
        for table in fids_by_table:
            self._config(table)
        return {
            table: self.lookup(table, fids) for table, fids in fids_by_table.items()
        }

    def apply_gradients(
        self,
        table: str,
        fids: Int64Array,
        grads: Float32Array,
        step: int,
        timestamp: float,
    ) -> None:
        keys, values = self._checked_update(table, fids, grads)
        self._apply_checked(table, keys, values, step, timestamp)

    def apply_gradients_many(
        self,
        updates: Mapping[str, tuple[Int64Array, Float32Array]],
        step: int,
        timestamp: float,
    ) -> None:
        checked = {
            table: self._checked_update(table, fids, grads)
            for table, (fids, grads) in updates.items()
        }
        for table, (keys, values) in checked.items():
            self._apply_checked(table, keys, values, step, timestamp)

    def _checked_update(
        self, table: str, fids: Int64Array, grads: Float32Array
    ) -> tuple[Int64Array, Float32Array]:
        config = self._config(table)
        keys = _fids(fids)
        values = np.asarray(grads, dtype=np.float32)
        if values.shape != (keys.shape[0], config.width):
            raise UsageError(
                f"grads for table {table!r} must have shape "
                f"{(keys.shape[0], config.width)}, got {values.shape}"
            )
        return keys, values

    def _apply_checked(
        self,
        table: str,
        keys: Int64Array,
        values: Float32Array,
        step: int,
        timestamp: float,
    ) -> None:
        with self._meta_lock:
            self._version += 1
            version = self._version
            self._inflight.add(version)
        try:
            if self._num_shards == 1:
                shard = self._shards[0]
                with shard.lock:
                    shard.tables[table].apply_gradients(
                        keys, values, step, timestamp, version
                    )
                return
            for shard, where in zip(
                self._shards, split_by_shard(keys, self._num_shards), strict=True
            ):
                if where.size:
                    with shard.lock:
                        shard.tables[table].apply_gradients(
                            keys[where], values[where], step, timestamp, version
                        )
        finally:
            with self._meta_lock:
                self._inflight.discard(version)

    def touched_since(self, table: str, version: int) -> TouchedRows:
        config = self._config(table)
        with self._meta_lock:
            # Rows of a call still running carry a version we must not skip.
            current = min(self._inflight) - 1 if self._inflight else self._version
        fids, rows = [], []
        for shard in self._shards:
            with shard.lock:
                f, r = shard.tables[table].touched_since(version)
            fids.append(f)
            rows.append(r)
        return TouchedRows(
            np.concatenate(fids) if fids else np.zeros(0, np.int64),
            np.concatenate(rows) if rows else np.zeros((0, config.width), np.float32),
            current,
        )

    # ------------------------------------------------------------ dense
    def init_dense(
        self, params: Mapping[str, Float32Array], optimizer: DenseOptimizerSpec
    ) -> None:
        self._dense.install(params, optimizer)

    def pull_dense(self) -> dict[str, Float32Array]:
        return self._dense.pull()

    def push_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        self._dense.push(grads)

    # ------------------------------------------------------------ snapshots
    def _filesystem(self) -> FileSystem:
        if self._fs is None:
            raise UsageError(
                "this LocalParameterStore has no file system: pass fs= to "
                "snapshot or restore"
            )
        return self._fs

    def snapshot(self, directory: str) -> list[str]:
        fs = self._filesystem()
        started = time.perf_counter()
        written: list[str] = []
        for name in sorted(self._configs):
            remove_other_parts(fs, directory, name, self._num_shards)
            for part, shard in enumerate(self._shards):
                with shard.lock:
                    written += save_table_part(
                        fs, directory, shard.tables[name], part, self._num_shards
                    )
        written += self._save_dense(fs, directory)
        logger.info(
            "store snapshot saved path=%s files=%d seconds=%.3f",
            directory,
            len(written),
            time.perf_counter() - started,
        )
        return written

    def _save_dense(self, fs: FileSystem, directory: str) -> list[str]:
        state = self._dense.state_arrays()
        return [] if state is None else save_dense(fs, directory, state)

    def restore(self, directory: str) -> None:
        self._restore(directory, part=0, parts=1)

    def snapshot_part(self, directory: str, part: int, parts: int) -> list[str]:
        """Write this one-shard store as ``part`` of ``parts`` (a PS server's call).

        Dense parameters are written by part 0 only.
        """
        self._check_part(part, parts)
        fs = self._filesystem()
        written: list[str] = []
        shard = self._shards[0]
        for name in sorted(self._configs):
            with shard.lock:
                written += save_table_part(
                    fs, directory, shard.tables[name], part, parts
                )
        if part == 0:
            written += self._save_dense(fs, directory)
        return written

    def restore_part(self, directory: str, part: int, parts: int) -> None:
        """Load the fids with ``fid mod parts == part`` from any snapshot."""
        self._check_part(part, parts)
        self._restore(directory, part, parts)

    def _check_part(self, part: int, parts: int) -> None:
        if self._num_shards != 1:
            raise UsageError(
                "part snapshots need a one-shard store, this one has "
                f"{self._num_shards}"
            )
        if not 0 <= part < parts:
            raise UsageError(f"part must be in [0, {parts}), got {part}")

    def _restore(self, directory: str, part: int, parts: int) -> None:
        """Replace all state by the snapshot's fids routed to this store.

        This store holds the fids ``f`` with ``f mod parts == part``, spread over
        its shards by ``f mod num_shards`` (``parts == 1`` for a whole store).
        """
        fs = self._filesystem()
        started = time.perf_counter()
        fresh = {
            name: [EmbeddingTable(config) for _ in self._shards]
            for name, config in self._configs.items()
        }
        # A snapshot of this store's sharding is adopted part by part.
        adopt_parts = self._num_shards if parts == 1 else None
        for name, config in self._configs.items():
            for saved in read_table_parts(fs, directory, config, adopt_parts):
                tables = fresh[name]
                if saved.filter is not None:
                    for table in tables:
                        if table.occurrence_filter is not None:
                            table.occurrence_filter.merge(saved.filter)
                if saved.index is not None:
                    try:
                        tables[saved.part].adopt(saved.views)
                    except UsageError as exc:
                        raise ParameterStoreError(
                            f"snapshot {directory!r} part {saved.part} of "
                            f"{saved.parts} of table {name!r} has an invalid "
                            f"index: {exc}"
                        ) from exc
                    continue
                self._route(tables, saved.arrays, part, parts)
        dense = read_dense(fs, directory) if part == 0 else {}
        for shard in self._shards:
            shard.lock.acquire()
        try:
            for index, shard in enumerate(self._shards):
                shard.tables = {name: fresh[name][index] for name in fresh}
        finally:
            for shard in self._shards:
                shard.lock.release()
        if dense and not self._dense.load_state(dense):
            logger.warning(
                "snapshot dense parameters ignored path=%s reason=%s",
                directory,
                "init_dense was not called",
            )
        logger.info(
            "store snapshot restored path=%s part=%d parts=%d seconds=%.3f",
            directory,
            part,
            parts,
            time.perf_counter() - started,
        )

    def _route(
        self, tables: list[EmbeddingTable], arrays: TableArrays, part: int, parts: int
    ) -> None:
        keys = arrays.keys
        if parts > 1:
            mine = np.flatnonzero(shard_of(keys, parts) == part)
            arrays = _select(arrays, mine)
            keys = arrays.keys
        if len(tables) == 1:
            tables[0].load(arrays)
            return
        for table, where in zip(tables, split_by_shard(keys, len(tables)), strict=True):
            table.load(_select(arrays, where))

    def close(self) -> None:
        self._closed = True


def _select(arrays: TableArrays, where: npt.NDArray[np.int64]) -> TableArrays:
    return TableArrays(
        arrays.keys[where],
        arrays.values[where],
        arrays.state[where],
        arrays.timestamps[where],
    )


def _fids(fids: npt.ArrayLike) -> Int64Array:
    keys = np.ascontiguousarray(fids, dtype=np.int64)
    if keys.ndim != 1:
        raise UsageError(f"fids must be 1-D, got shape {keys.shape}")
    return keys
