"""The parameter-server process's gRPC service over one store shard.

``start_ps_server(store, host, port)`` serves a
:class:`~monolith.adapters.parameters.local.LocalParameterStore` holding this
PS's shard (one internal shard) over the ``monolith.ps.ParameterServer``
service, plus the standard ``grpc.health.v1.Health`` service. The chief ends
training with the ``Shutdown`` RPC; ``handle.wait()`` returns once it has.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from monolith.adapters.parameters import grpc_codec as codec
from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.parameters.request_ledger import RequestLedger
from monolith.domain.errors import (
    MonolithError,
    ParameterStoreError,
    UsageError,
)
from monolith.domain.model_spec import DenseOptimizerSpec
from monolith.proto import parameter_server_pb2 as pb
from monolith.proto import parameter_server_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ParameterServer"].full_name
DEFAULT_MAX_MESSAGE_BYTES = 512 << 20

T = TypeVar("T")


def format_address(host: str, port: int) -> str:
    """``host:port``, with IPv6 hosts in brackets."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """gRPC options shared by the server and its clients."""
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]


def _status_of(exc: MonolithError) -> grpc.StatusCode:
    if isinstance(exc, UsageError):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(exc, ParameterStoreError):
        return grpc.StatusCode.FAILED_PRECONDITION
    return grpc.StatusCode.INTERNAL


class _Servicer(pb_grpc.ParameterServerServicer):
    def __init__(self, store: LocalParameterStore, stop: Callable[[float], None]):
        self._store = store
        self._stop = stop
        # Updates carry a request id, so a retried one is applied once.
        self._ledger = RequestLedger()

    def _run(
        self, method: str, context: grpc.ServicerContext, call: Callable[[], T]
    ) -> T:
        try:
            return call()
        except MonolithError as exc:
            logger.info("ps call refused method=%s error=%s", method, exc)
            context.abort(_status_of(exc), f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            logger.exception("ps call failed method=%s", method)
            context.abort(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")
        raise AssertionError("context.abort returned")  # abort always raises

    def CreateTables(self, request: Any, context: grpc.ServicerContext) -> pb.Empty:
        def call() -> pb.Empty:
            configs = [codec.config_from_json(text) for text in request.config_json]
            self._store.create_tables(configs)
            return pb.Empty()

        return self._run("CreateTables", context, call)

    def ListTables(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            infos = [
                pb.TableInfo(name=t.name, rows=t.rows, dim=t.dim)
                for t in self._store.tables()
            ]
            return pb.ListTablesResponse(tables=infos)

        return self._run("ListTables", context, call)

    def Lookup(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            rows = self._store.lookup(
                request.table, codec.fids_from_bytes(request.fids)
            )
            return pb.LookupResponse(
                rows=codec.rows_to_bytes(rows), width=rows.shape[1]
            )

        return self._run("Lookup", context, call)

    def ApplyGradients(self, request: Any, context: grpc.ServicerContext) -> pb.Empty:
        def call() -> pb.Empty:
            fids = codec.fids_from_bytes(request.fids)
            grads = codec.rows_from_bytes(request.grads, len(fids), request.width)
            self._ledger.run_once(
                request.request_id,
                lambda: self._store.apply_gradients(
                    request.table, fids, grads, request.step, request.timestamp
                ),
            )
            return pb.Empty()

        return self._run("ApplyGradients", context, call)

    def LookupMany(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            wanted = [(r.table, codec.fids_from_bytes(r.fids)) for r in request.lookups]
            if len({table for table, _ in wanted}) != len(wanted):
                raise UsageError("LookupMany names a table twice")
            found = self._store.lookup_many(dict(wanted))
            return pb.LookupManyResponse(
                results=[
                    pb.LookupResponse(
                        rows=codec.rows_to_bytes(found[table]),
                        width=found[table].shape[1],
                    )
                    for table, _ in wanted
                ]
            )

        return self._run("LookupMany", context, call)

    def ApplyGradientsMany(
        self, request: Any, context: grpc.ServicerContext
    ) -> pb.Empty:
        def call() -> pb.Empty:
            updates = {}
            for update in request.updates:
                fids = codec.fids_from_bytes(update.fids)
                grads = codec.rows_from_bytes(update.grads, len(fids), update.width)
                if update.table in updates:
                    raise UsageError(
                        f"ApplyGradientsMany names table {update.table!r} twice"
                    )
                updates[update.table] = (fids, grads)
            self._ledger.run_once(
                request.request_id,
                lambda: self._store.apply_gradients_many(
                    updates, request.step, request.timestamp
                ),
            )
            return pb.Empty()

        return self._run("ApplyGradientsMany", context, call)

    def InitDense(self, request: Any, context: grpc.ServicerContext) -> pb.Empty:
        def call() -> pb.Empty:
            spec = DenseOptimizerSpec(
                kind=request.optimizer,
                learning_rate=request.learning_rate,
                clip_norm=request.clip_norm,
            )
            self._store.init_dense(codec.dense_from_proto(request.params), spec)
            return pb.Empty()

        return self._run("InitDense", context, call)

    def PullDense(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._run(
            "PullDense", context, lambda: codec.dense_to_proto(self._store.pull_dense())
        )

    def PushDenseGradients(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> pb.Empty:
            grads = codec.dense_from_proto(request)
            self._ledger.run_once(
                request.request_id, lambda: self._store.push_dense_gradients(grads)
            )
            return pb.Empty()

        return self._run("PushDenseGradients", context, call)

    def Snapshot(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            files = self._store.snapshot_part(
                request.directory, request.part, request.parts
            )
            return pb.SnapshotResponse(files=files)

        return self._run("Snapshot", context, call)

    def Restore(self, request: Any, context: grpc.ServicerContext) -> pb.Empty:
        def call() -> pb.Empty:
            self._store.restore_part(request.directory, request.part, request.parts)
            return pb.Empty()

        return self._run("Restore", context, call)

    def TouchedSince(self, request: Any, context: grpc.ServicerContext) -> Any:
        def call() -> Any:
            touched = self._store.touched_since(request.table, request.version)
            return pb.TouchedSinceResponse(
                fids=codec.fids_to_bytes(touched.fids),
                rows=codec.rows_to_bytes(touched.rows),
                width=touched.rows.shape[1],
                version=touched.version,
            )

        return self._run("TouchedSince", context, call)

    def Shutdown(self, request: Any, context: grpc.ServicerContext) -> pb.Empty:
        grace = request.grace_seconds if request.grace_seconds > 0 else 1.0
        logger.info("ps shutdown requested grace=%.1f", grace)
        # Stop from another thread: stopping waits for this very call to end.
        threading.Thread(target=self._stop, args=(grace,), daemon=True).start()
        return pb.Empty()


class PsServerHandle:
    """A running parameter server: its port, and how to stop or await it."""

    def __init__(
        self,
        server: grpc.Server,
        health_servicer: health.HealthServicer,
        host: str,
        port: int,
    ) -> None:
        self._server = server
        self._health = health_servicer
        self.host = host
        self.port = port
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        """``host:port`` clients connect to."""
        return format_address(self.host, self.port)

    def stop(self, grace: float | None = 1.0) -> None:
        """Refuse new calls, let running ones finish within ``grace`` seconds.

        Idempotent; health turns NOT_SERVING first.
        """
        with self._lock:
            if self._stopped.is_set():
                return
            self._health.enter_graceful_shutdown()
            self._server.stop(grace).wait()
            self._stopped.set()
        logger.info("ps server stopped address=%s", self.address)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stopped (e.g. by the Shutdown RPC)."""
        return self._stopped.wait(timeout)


def start_ps_server(
    store: LocalParameterStore,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_workers: int = 8,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
) -> PsServerHandle:
    """Serve ``store`` on ``host:port`` (0 picks a free port) and return a handle.

    Args:
        store: This PS's shard: a one-shard store with a file system for
            snapshots.
        host: Interface to bind; 127.0.0.1 by default.
        port: Port to bind; 0 lets the OS choose (see ``handle.port``).
        max_message_bytes: Largest request or response (default 512 MiB).
        max_workers: Threads serving calls.
        interceptors: gRPC server interceptors (auth, metrics, fault
            injection), outermost first.

    Raises:
        ParameterStoreError: When the address cannot be bound.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ps"),
        options=channel_options(max_message_bytes),
        interceptors=list(interceptors),
    )
    health_servicer = health.HealthServicer()
    handle_box: list[PsServerHandle] = []

    def stop(grace: float) -> None:
        handle_box[0].stop(grace)

    pb_grpc.add_ParameterServerServicer_to_server(  # type: ignore[no-untyped-call]
        _Servicer(store, stop), server
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = format_address(host, port)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise ParameterStoreError(f"cannot bind parameter server to {address}") from exc
    if bound == 0:
        raise ParameterStoreError(f"cannot bind parameter server to {address}")
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    handle = PsServerHandle(server, health_servicer, host, bound)
    handle_box.append(handle)
    logger.info("ps server started address=%s", handle.address)
    return handle
