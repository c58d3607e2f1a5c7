"""A ParameterStore whose shards are remote parameter servers, over grpcio."""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from monolith.adapters.parameters import grpc_codec as codec
from monolith.adapters.parameters.grpc_server import (
    DEFAULT_MAX_MESSAGE_BYTES,
    SERVICE_NAME,
    channel_options,
)
from monolith.domain.embedding.config import TableConfig
from monolith.domain.errors import (
    ParameterStoreError,
    ShardUnavailableError,
    UsageError,
)
from monolith.domain.model_spec import DenseOptimizerSpec
from monolith.domain.sharding import scatter_from_shards, split_by_shard
from monolith.ports.parameters import Float32Array, Int64Array, TableInfo, TouchedRows
from monolith.proto import parameter_server_pb2 as pb
from monolith.proto import parameter_server_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

_VERSION_BITS = 64
_VERSION_MASK = (1 << _VERSION_BITS) - 1
_RETRIED = (grpc.StatusCode.UNAVAILABLE,)


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

    Updates (``apply_gradients``, ``push_dense_gradients``) carry a request
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
        self._deadline = deadline
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        options = channel_options(max_message_bytes)
        self._channels = [grpc.insecure_channel(a, options=options) for a in addresses]
        self._stubs = [
            pb_grpc.ParameterServerStub(c)  # type: ignore[no-untyped-call]
            for c in self._channels
        ]
        self._closed = False
        self._lock = threading.Lock()
        self._client_id = uuid.uuid4().hex
        self._requests = itertools.count(1)

    @property
    def num_shards(self) -> int:
        return len(self._addresses)

    @property
    def addresses(self) -> list[str]:
        """The PS addresses, shard ``i`` at index ``i``."""
        return list(self._addresses)

    # ------------------------------------------------------------ calls
    def _request_id(self) -> str:
        """A new id for one update call: unique per client, kept across retries."""
        return f"{self._client_id}-{next(self._requests)}"

    def _unavailable(self, shard: int, what: str, exc: grpc.RpcError) -> Exception:
        return ShardUnavailableError(
            f"parameter server shard {shard} at {self._addresses[shard]} is "
            f"unavailable: {what} ({exc.code().name}: {exc.details()})"
        )

    def _translate(self, shard: int, method: str, exc: grpc.RpcError) -> Exception:
        code = exc.code()
        where = f"shard {shard} at {self._addresses[shard]}"
        detail = exc.details() or ""
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return UsageError(f"{method} refused by {where}: {detail}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return self._unavailable(
                shard, f"{method} exceeded its {self._deadline:.1f}s deadline", exc
            )
        if code == grpc.StatusCode.UNAVAILABLE:
            return self._unavailable(
                shard, f"{method} still failing after {self._deadline:.1f}s", exc
            )
        return ParameterStoreError(f"{method} failed on {where}: {detail}")

    def _call(self, shard: int, method: str, request: Any) -> Any:
        """One unary call with UNAVAILABLE retried until the deadline."""
        if self._closed:
            raise ParameterStoreError("GrpcParameterStore is closed")
        rpc: Callable[..., Any] = getattr(self._stubs[shard], method)
        end = time.monotonic() + self._deadline
        backoff = self._initial_backoff
        attempt = 0
        while True:
            attempt += 1
            remaining = end - time.monotonic()
            try:
                return rpc(request, timeout=max(remaining, 0.001))
            except grpc.RpcError as exc:
                remaining = end - time.monotonic()
                if exc.code() not in _RETRIED or remaining <= 0:
                    raise self._translate(shard, method, exc) from None
                pause = min(backoff * (0.5 + random.random()), remaining)
                logger.debug(
                    "ps call retry method=%s shard=%d attempt=%d pause=%.3f",
                    method,
                    shard,
                    attempt,
                    pause,
                )
                time.sleep(pause)
                backoff = min(backoff * 2, self._max_backoff)

    def _fan_out(self, method: str, requests: Mapping[int, Any]) -> dict[int, Any]:
        """Send one request per shard concurrently; retry per shard as needed."""
        if len(requests) == 1:
            ((shard, request),) = requests.items()
            return {shard: self._call(shard, method, request)}
        pending = {
            shard: getattr(self._stubs[shard], method).future(
                request, timeout=self._deadline
            )
            for shard, request in requests.items()
        }
        results: dict[int, Any] = {}
        failure: Exception | None = None
        for shard, future in pending.items():
            try:
                results[shard] = future.result()
            except grpc.RpcError as exc:
                if exc.code() in _RETRIED:
                    try:
                        results[shard] = self._call(shard, method, requests[shard])
                    except Exception as retry_exc:
                        failure = failure or retry_exc
                else:
                    failure = failure or self._translate(shard, method, exc)
        if failure is not None:
            raise failure
        return results

    def _all(self, method: str, request: Any) -> dict[int, Any]:
        return self._fan_out(method, dict.fromkeys(range(self.num_shards), request))

    def wait_ready(self, timeout: float) -> None:
        """Block until every shard's health service answers SERVING.

        Raises:
            ShardUnavailableError: A shard is not serving within ``timeout``.
        """
        end = time.monotonic() + timeout
        for shard, channel in enumerate(self._channels):
            stub = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
            while True:
                try:
                    reply = stub.Check(
                        request, timeout=max(end - time.monotonic(), 0.01)
                    )
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.RpcError as exc:
                    if time.monotonic() >= end:
                        raise self._unavailable(
                            shard, f"not healthy within {timeout:.1f}s", exc
                        ) from None
                if time.monotonic() >= end:
                    raise ShardUnavailableError(
                        f"parameter server shard {shard} at {self._addresses[shard]} "
                        f"is not SERVING after {timeout:.1f}s"
                    )
                time.sleep(0.05)

    # ------------------------------------------------------------ tables
    def create_tables(self, configs: Sequence[TableConfig]) -> None:
        request = pb.CreateTablesRequest(
            config_json=[codec.config_to_json(c) for c in configs]
        )
        self._all("CreateTables", request)

    def tables(self) -> list[TableInfo]:
        replies = self._all("ListTables", pb.Empty())
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
            reply = self._call(
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
        replies = self._fan_out("Lookup", requests)
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
        keys = _fids(fids)
        values = np.asarray(grads, dtype=np.float32)
        if values.ndim != 2 or values.shape[0] != keys.shape[0]:
            raise UsageError(
                f"grads for table {table!r} must have shape [{keys.shape[0]}, width], "
                f"got {values.shape}"
            )
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
        self._fan_out("ApplyGradients", requests)

    def touched_since(self, table: str, version: int) -> TouchedRows:
        requests = {
            shard: pb.TouchedSinceRequest(
                table=table,
                version=(version >> (_VERSION_BITS * shard)) & _VERSION_MASK,
            )
            for shard in range(self.num_shards)
        }
        replies = self._fan_out("TouchedSince", requests)
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
        self._call(0, "InitDense", request)

    def pull_dense(self) -> dict[str, Float32Array]:
        return codec.dense_from_proto(self._call(0, "PullDense", pb.Empty()))

    def push_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        request = codec.dense_to_proto(grads)
        request.request_id = self._request_id()
        self._call(0, "PushDenseGradients", request)

    # ------------------------------------------------------------ snapshots
    def snapshot(self, directory: str) -> list[str]:
        started = time.perf_counter()
        requests = {
            shard: pb.SnapshotRequest(
                directory=directory, part=shard, parts=self.num_shards
            )
            for shard in range(self.num_shards)
        }
        replies = self._fan_out("Snapshot", requests)
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
        self._fan_out("Restore", requests)
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
                self._call(shard, "Shutdown", request)
            except ShardUnavailableError:
                logger.warning(
                    "ps shutdown skipped shard=%d address=%s reason=unavailable",
                    shard,
                    self._addresses[shard],
                )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for channel in self._channels:
            channel.close()


def _fids(fids: Any) -> Int64Array:
    keys = np.ascontiguousarray(fids, dtype=np.int64)
    if keys.ndim != 1:
        raise UsageError(f"fids must be 1-D, got shape {keys.shape}")
    return keys
