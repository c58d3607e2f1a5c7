"""The Prediction service on grpcio, with health checking and reflection.

The server decodes each RPC into domain values and calls a
:class:`~monolith.ports.serving.PredictionHandler`. It also serves the
standard ``grpc.health.v1.Health`` service (``SERVING`` for the overall
server and ``monolith.serving.v1.PredictionService`` only once a model is
loaded, see :meth:`GrpcPredictionServer.set_serving`) and server reflection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from monolith.adapters.serving import codec
from monolith.domain.errors import ServingError, UsageError
from monolith.domain.serve_settings import ServeSettings
from monolith.ports.serving import PredictionHandler, ServingMetrics
from monolith.proto import prediction_service_pb2 as pb
from monolith.proto import prediction_service_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PredictionService"].full_name

T = TypeVar("T")

DRAIN_SETTLE_SECONDS = 0.1
"""After the last accepted call finishes, how long refusals go on before the
transport itself is shut down."""


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


class _Admission(grpc.ServerInterceptor):  # type: ignore[misc]
    """Counts Prediction RPCs from the moment the server accepts them.

    The interceptor runs when a call is matched, before it waits for a worker
    thread, so a call queued behind busy workers already counts as in flight.
    While draining, new calls are answered UNAVAILABLE.
    """

    def __init__(self, metrics: ServingMetrics) -> None:
        self._metrics = metrics
        self._lock = threading.Condition()
        self._in_flight = 0
        self._draining = False

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = continuation(details)
        method = str(details.method)
        if handler is None or not method.startswith(f"/{SERVICE_NAME}/"):
            return handler
        with self._lock:
            if self._draining:
                self._metrics.observe_request(
                    method.rsplit("/", 1)[-1], "UNAVAILABLE", 0.0
                )
                return grpc.unary_unary_rpc_method_handler(_refuse_while_draining)
            self._in_flight += 1
        inner = handler.unary_unary

        def counted(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return inner(request, context)
            finally:
                self._done()

        return grpc.unary_unary_rpc_method_handler(
            counted,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._lock.notify_all()

    def drain(self, timeout: float) -> int:
        """Refuse new calls, wait up to ``timeout`` for accepted ones, return the rest.

        Once none run, it waits :data:`DRAIN_SETTLE_SECONDS` more (within
        ``timeout``) so calls already on the wire are matched and refused with
        UNAVAILABLE instead of being cancelled by the transport shutdown.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._draining = True
            self._lock.wait_for(lambda: self._in_flight == 0, timeout=timeout)
        settle = min(DRAIN_SETTLE_SECONDS, deadline - time.monotonic())
        if settle > 0:
            time.sleep(settle)
        with self._lock:
            return self._in_flight


def _refuse_while_draining(request: bytes, context: grpc.ServicerContext) -> bytes:
    context.set_code(grpc.StatusCode.UNAVAILABLE)
    context.set_details("server is shutting down; retry on another replica")
    return b""


class _Servicer(pb_grpc.PredictionServiceServicer):
    def __init__(self, handler: PredictionHandler, metrics: ServingMetrics) -> None:
        self._handler = handler
        self._metrics = metrics

    def _call(
        self,
        method: str,
        context: grpc.ServicerContext,
        body: Callable[[], T],
        empty: Callable[[], T],
    ) -> T:
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return body()
        except UsageError as exc:
            code, details = grpc.StatusCode.INVALID_ARGUMENT, str(exc)
            logger.debug("request rejected method=%s reason=%s", method, exc)
        except ServingError as exc:
            code, details = grpc.StatusCode.UNAVAILABLE, str(exc)
        except Exception as exc:
            code = grpc.StatusCode.INTERNAL
            details = f"{type(exc).__name__}: {exc}"
            logger.exception("request failed method=%s", method)
        finally:
            self._metrics.observe_request(
                method, code.name, time.perf_counter() - start
            )
        context.set_code(code)
        context.set_details(details)
        return empty()

    def Predict(
        self, request: pb.PredictRequest, context: grpc.ServicerContext
    ) -> pb.PredictResponse:
        return self._call(
            "Predict",
            context,
            lambda: codec.result_to_proto(
                self._handler.predict(codec.request_from_proto(request))
            ),
            pb.PredictResponse,
        )

    def PushDelta(
        self, request: pb.PushDeltaRequest, context: grpc.ServicerContext
    ) -> pb.PushDeltaResponse:
        return self._call(
            "PushDelta",
            context,
            lambda: codec.outcome_to_proto(
                self._handler.apply_delta(codec.delta_from_proto(request))
            ),
            pb.PushDeltaResponse,
        )

    def ModelStatus(
        self, request: pb.ModelStatusRequest, context: grpc.ServicerContext
    ) -> pb.ModelStatusResponse:
        return self._call(
            "ModelStatus",
            context,
            lambda: codec.status_to_proto(self._handler.status()),
            pb.ModelStatusResponse,
        )


class GrpcPredictionServer:
    """A grpcio server for the Prediction service, health and reflection.

    Backend: grpcio with a thread pool of ``settings.workers`` threads.
    Settings used: host, port, workers, tls_cert/tls_key, max_message_bytes.

    Warning:
        Health starts at NOT_SERVING for the Prediction service; the owner
        calls :meth:`set_serving` once a model is loaded. :meth:`stop` refuses
        new RPCs at once and waits up to ``grace`` seconds for in-flight ones.
    """

    def __init__(
        self,
        handler: PredictionHandler,
        settings: ServeSettings,
        metrics: ServingMetrics,
        extra_handlers: Sequence[grpc.GenericRpcHandler] = (),
    ) -> None:
        self._settings = settings
        self._admission = _Admission(metrics)
        self._server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=settings.workers, thread_name_prefix="monolith-serve"
            ),
            interceptors=(self._admission,),
            options=channel_options(settings.max_message_bytes),
        )
        pb_grpc.add_PredictionServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _Servicer(handler, metrics), self._server
        )
        self._health = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        if extra_handlers:
            self._server.add_generic_rpc_handlers(tuple(extra_handlers))
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME),
            self._server,
        )
        self.set_serving(False)
        self._port = self._bind()
        self._stopped = threading.Event()

    def _bind(self) -> int:
        address = format_address(self._settings.host, self._settings.port)
        try:
            if self._settings.tls:
                credentials = grpc.ssl_server_credentials(
                    [(_read(self._settings.tls_key), _read(self._settings.tls_cert))]
                )
                port = self._server.add_secure_port(address, credentials)
            else:
                port = self._server.add_insecure_port(address)
        except RuntimeError as exc:
            raise ServingError(
                f"cannot bind the gRPC server to {address}: {exc}"
            ) from exc
        if port == 0:
            raise ServingError(f"cannot bind the gRPC server to {address}")
        return int(port)

    @property
    def port(self) -> int:
        """The bound port (the chosen one when settings asked for 0)."""
        return self._port

    @property
    def address(self) -> str:
        return format_address(self._settings.host, self._port)

    def start(self) -> None:
        self._server.start()
        logger.info(
            "grpc server started address=%s workers=%d tls=%s",
            self.address,
            self._settings.workers,
            self._settings.tls,
        )

    def set_serving(self, serving: bool) -> None:
        """Report SERVING (a model is loaded) or NOT_SERVING on the health service."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        self._health.set(SERVICE_NAME, status)
        self._health.set("", status)

    def stop(self, grace: float) -> None:
        """Refuse new RPCs, let in-flight ones finish within ``grace``, then stop.

        New Prediction RPCs get UNAVAILABLE at once; the server itself is shut
        down once the running ones are done (or ``grace`` has passed), so no
        accepted call is cut off while it runs.
        """
        self._health.enter_graceful_shutdown()
        started = time.monotonic()
        left = self._admission.drain(grace)
        remaining = max(grace - (time.monotonic() - started), 0.0)
        done = self._server.stop(remaining)
        done.wait(remaining + 5.0)
        self._stopped.set()
        logger.info(
            "grpc server stopped address=%s grace=%.1f aborted=%d",
            self.address,
            grace,
            left,
        )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` finished; False on timeout."""
        return self._stopped.wait(timeout)


def _read(path: str | None) -> bytes:
    if path is None:
        raise ServingError("TLS needs both a certificate and a key file")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ServingError(f"cannot read TLS file {path}: {exc}") from exc
