"""A ParameterStore whose shards are remote parameter servers, over grpcio."""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monolith.adapters.parameters import grpc_codec as codec
from monolith.adapters.parameters.grpc_calls import ShardCalls
from monolith.adapters.parameters.grpc_server import DEFAULT_MAX_MESSAGE_BYTES
from monolith.domain.embedding.config import TableConfig
from monolith.domain.errors import (
    ShardUnavailableError,
    UsageError,
)
from monolith.domain.model_spec import DenseOptimizerSpec
from monolith.domain.sharding import scatter_from_shards, split_by_shard
from monolith.ports.parameters import Float32Array, Int64Array, TableInfo, TouchedRows
from monolith.proto import parameter_server_pb2 as pb

logger = logging.getLogger(__name__)

_VERSION_BITS = 64
_VERSION_MASK = (1 << _VERSION_BITS) - 1


class GrpcParameterStore:
    """Embedding tables on remote PS processes, routed by ``fid mod len(addresses)``.

    Backend: grpcio channels, one per PS address, to servers started with
    :func:`~monolith.adapters.parameters.grpc_server.start_ps_server`. Shard
    ``i`` is ``addresses[i]``; dense parameters live on shard 0.

    Config: ``addresses``; ``deadline`` (seconds a call may take, retries
    included, default 30); ``max_message_bytes`` (default 512 MiB);
    ``initial_backoff`` / ``max_backoff`` (seconds between retries of
    UNAVAILABLE, doubling with jitter). A shard still unavailable at the
    deadline, or a call that exceeds it, raises ShardUnavailableError naming
    the address. A request rejected by the server raises UsageError (bad
    argument) or ParameterStoreError (e.g. unknown table).

    ``lookup_many`` and ``apply_gradients_many`` send one request per shard
    for all their tables (``LookupMany``, ``ApplyGradientsMany``), so a
    training step costs a round trip per shard, not per table and shard.

    Updates (``apply_gradients``, ``apply_gradients_many``,
    ``push_dense_gradients``) carry a request
    id that stays the same across retries, and the server applies each id
    once: a retry after a reply lost on the way back changes nothing.

    Known limits: versions from ``touched_since`` pack one
    64-bit version per shard into one Python int; pass them back unchanged.
    Snapshots are written by the servers, on their file systems: every PS
    must see ``directory`` (a shared disk or HDFS for multi-host clusters).
    """

    def __init__(
        self,
        addresses: Sequence[str],
        deadline: float = 30.0,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        initial_backoff: float = 0.05,
        max_backoff: float = 1.0,
    ) -> None:
        if not addresses:
            raise UsageError("GrpcParameterStore needs at least one PS address")
        if deadline <= 0:
            raise UsageError(f"deadline must be > 0 seconds, got {deadline}")
        self._addresses = list(addresses)
        self._calls = ShardCalls(
            addresses,
            deadline,
            max_message_bytes=max_message_bytes,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )
        self._client_id = uuid.uuid4().hex
        self._requests = itertools.count(1)

    @property
    def num_shards(self) -> int:
        return len(self._addresses)

    @property
    def addresses(self) -> list[str]:
        """The PS addresses, shard ``i`` at index ``i``."""
        return list(self._addresses)

    def _request_id(self) -> str:
        """A new id for one update call: unique per client, kept across retries."""
        return f"{self._client_id}-{next(self._requests)}"

    def wait_ready(self, timeout: float) -> None:
        """Block until every shard's health service answers SERVING.

        Raises:
            ShardUnavailableError: A shard is not serving within ``timeout``.
        """
        self._calls.wait_ready(timeout)

    # ------------------------------------------------------------ tables
    def create_tables(self, configs: Sequence[TableConfig]) -> None:
        request = pb.CreateTablesRequest(
            config_json=[codec.config_to_json(c) for c in configs]
        )
        self._calls.all("CreateTables", request)

    def tables(self) -> list[TableInfo]:
        replies = self._calls.all("ListTables", pb.Empty())
        totals: dict[str, list[int]] = {}
        for reply in replies.values():
            for info in reply.tables:
                entry = totals.setdefault(info.name, [0, info.dim])
                entry[0] += info.rows
        return [
            TableInfo(name, rows, dim) for name, (rows, dim) in sorted(totals.items())
        ]

    def lookup(self, table: str, fids: Int64Array) -> Float32Array:
        keys = _fids(fids)
        if self.num_shards == 1:
            reply = self._calls.call(
                0,
                "Lookup",
                pb.LookupRequest(table=table, fids=codec.fids_to_bytes(keys)),
            )
            return codec.rows_from_bytes(reply.rows, keys.shape[0], reply.width)
        positions = split_by_shard(keys, self.num_shards)
        requests = {
            shard: pb.LookupRequest(table=table, fids=codec.fids_to_bytes(keys[where]))
            for shard, where in enumerate(positions)
        }
        replies = self._calls.fan_out("Lookup", requests)
        width = max(r.width for r in replies.values())
        parts = [
            np.frombuffer(replies[s].rows, dtype="<f4").reshape(len(w), width)
            for s, w in enumerate(positions)
        ]
        return np.asarray(
            scatter_from_shards(parts, positions, keys.shape[0]), dtype=np.float32
        )

    def apply_gradients(
        self,
        table: str,
        fids: Int64Array,
        grads: Float32Array,
        step: int,
        timestamp: float,
    ) -> None:
        keys, values = _checked_grads(table, fids, grads)
        requests = {}
        request_id = self._request_id()
        for shard, where in enumerate(split_by_shard(keys, self.num_shards)):
            if where.size or shard == 0:
                requests[shard] = pb.ApplyGradientsRequest(
                    table=table,
                    fids=codec.fids_to_bytes(keys[where]),
                    grads=codec.rows_to_bytes(values[where]),
                    step=step,
                    timestamp=timestamp,
                    width=values.shape[1],
                    request_id=request_id,
                )
        self._calls.fan_out("ApplyGradients", requests)

    def lookup_many(
        self, fids_by_table: Mapping[str, Int64Array]
    ) -> dict[str, Float32Array]:
        tables = list(fids_by_table)
        if not tables:
            return {}
        keys = [_fids(fids_by_table[t]) for t in tables]
        positions = [split_by_shard(k, self.num_shards) for k in keys]
        requests = {
            shard: pb.LookupManyRequest(
                lookups=[
                    pb.LookupRequest(table=t, fids=codec.fids_to_bytes(k[p[shard]]))
                    for t, k, p in zip(tables, keys, positions, strict=True)
                ]
            )
            for shard in range(self.num_shards)
        }
        replies = self._calls.fan_out("LookupMany", requests)
        out: dict[str, Float32Array] = {}
        for i, (table, k, where) in enumerate(
            zip(tables, keys, positions, strict=True)
        ):
            results = [replies[shard].results[i] for shard in range(self.num_shards)]
            width = max(r.width for r in results)
            parts = [
                codec.rows_from_bytes(r.rows, len(w), width)
                for r, w in zip(results, where, strict=True)
            ]
            if self.num_shards == 1:
                out[table] = parts[0]
            else:
                out[table] = np.asarray(
                    scatter_from_shards(parts, where, k.shape[0]), dtype=np.float32
                )
        return out

    def apply_gradients_many(
        self,
        updates: Mapping[str, tuple[Int64Array, Float32Array]],
        step: int,
        timestamp: float,
    ) -> None:
        checked = []
        for table, (fids, grads) in updates.items():
            keys, values = _checked_grads(table, fids, grads)
            checked.append((table, keys, values, split_by_shard(keys, self.num_shards)))
        if not checked:
            return
        request_id = self._request_id()
        requests = {}
        for shard in range(self.num_shards):
            parts = [
                pb.ApplyGradientsRequest(
                    table=table,
                    fids=codec.fids_to_bytes(keys[where[shard]]),
                    grads=codec.rows_to_bytes(values[where[shard]]),
                    width=values.shape[1],
                )
                for table, keys, values, where in checked
            ]
            # Shard 0 always hears of every table, so an unknown one is an
            # error even when all its fids live elsewhere.
            if shard == 0 or any(where[shard].size for *_, where in checked):
                requests[shard] = pb.ApplyGradientsManyRequest(
                    updates=parts,
                    step=step,
                    timestamp=timestamp,
                    request_id=request_id,
                )
        self._calls.fan_out("ApplyGradientsMany", requests)

    def touched_since(self, table: str, version: int) -> TouchedRows:
        requests = {
            shard: pb.TouchedSinceRequest(
                table=table,
                version=(version >> (_VERSION_BITS * shard)) & _VERSION_MASK,
            )
            for shard in range(self.num_shards)
        }
        replies = self._calls.fan_out("TouchedSince", requests)
        fids, rows = [], []
        packed = 0
        for shard in range(self.num_shards):
            reply = replies[shard]
            keys = codec.fids_from_bytes(reply.fids)
            fids.append(keys)
            rows.append(codec.rows_from_bytes(reply.rows, keys.shape[0], reply.width))
            packed |= (reply.version & _VERSION_MASK) << (_VERSION_BITS * shard)
        return TouchedRows(np.concatenate(fids), np.concatenate(rows), packed)

    # ------------------------------------------------------------ dense
    def init_dense(
        self, params: Mapping[str, Float32Array], optimizer: DenseOptimizerSpec
    ) -> None:
        request = pb.InitDenseRequest(
            params=codec.dense_to_proto(params),
            optimizer=optimizer.kind,
            learning_rate=optimizer.learning_rate,
            clip_norm=optimizer.clip_norm,
        )
        self._calls.call(0, "InitDense", request)

    def pull_dense(self) -> dict[str, Float32Array]:
        return codec.dense_from_proto(self._calls.call(0, "PullDense", pb.Empty()))

    def push_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        request = codec.dense_to_proto(grads)
        request.request_id = self._request_id()
        self._calls.call(0, "PushDenseGradients", request)

    # ------------------------------------------------------------ snapshots
    def snapshot(self, directory: str) -> list[str]:
        started = time.perf_counter()
        requests = {
            shard: pb.SnapshotRequest(
                directory=directory, part=shard, parts=self.num_shards
            )
            for shard in range(self.num_shards)
        }
        replies = self._calls.fan_out("Snapshot", requests)
        files = [f for shard in sorted(replies) for f in replies[shard].files]
        logger.info(
            "remote snapshot saved path=%s shards=%d files=%d seconds=%.3f",
            directory,
            self.num_shards,
            len(files),
            time.perf_counter() - started,
        )
        return files

    def restore(self, directory: str) -> None:
        started = time.perf_counter()
        requests = {
            shard: pb.RestoreRequest(
                directory=directory, part=shard, parts=self.num_shards
            )
            for shard in range(self.num_shards)
        }
        self._calls.fan_out("Restore", requests)
        logger.info(
            "remote snapshot restored path=%s shards=%d seconds=%.3f",
            directory,
            self.num_shards,
            time.perf_counter() - started,
        )

    def shutdown_servers(self, grace: float = 1.0) -> None:
        """Tell every PS to stop (the chief's last act in a training run)."""
        request = pb.ShutdownRequest(grace_seconds=grace)
        for shard in range(self.num_shards):
            try:
                self._calls.call(shard, "Shutdown", request)
            except ShardUnavailableError:
                logger.warning(
                    "ps shutdown skipped shard=%d address=%s reason=unavailable",
                    shard,
                    self._addresses[shard],
                )

    def close(self) -> None:
        self._calls.close()


def _fids(fids: Any) -> Int64Array:
    keys = np.ascontiguousarray(fids, dtype=np.int64)
    if keys.ndim != 1:
        raise UsageError(f"fids must be 1-D, got shape {keys.shape}")
    return keys


def _checked_grads(
    table: str, fids: Any, grads: Any
) -> tuple[Int64Array, Float32Array]:
    """Fids and a ``[len(fids), width]`` float32 gradient block (the server
    checks the width against the table)."""
    keys = _fids(fids)
    values = np.asarray(grads, dtype=np.float32)
    if values.ndim != 2 or values.shape[0] != keys.shape[0]:
        raise UsageError(
            f"grads for table {table!r} must have shape [{keys.shape[0]}, width], "
            f"got {values.shape}"
        )
    return keys, values
