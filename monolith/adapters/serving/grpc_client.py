"""A client of the Prediction service on grpcio."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import grpc

from monolith.adapters.serving import codec
from monolith.adapters.serving.grpc_server import channel_options
from monolith.domain.errors import ServingError, UsageError
from monolith.domain.serving import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DeltaOutcome,
    EmbeddingDelta,
    PredictRequest,
    PredictResult,
)
from monolith.ports.serving import ModelStatus
from monolith.proto import prediction_service_pb2 as pb
from monolith.proto import prediction_service_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

T = TypeVar("T")


class GrpcPredictionClient:
    """Calls ``monolith serve`` at ``address`` (``host:port``).

    Backend: a grpcio channel, insecure unless ``root_certificates`` (PEM) is
    given. Errors: INVALID_ARGUMENT comes back as UsageError with the server's
    message; every other failure is ServingError naming the address and code.
    """

    def __init__(
        self,
        address: str,
        root_certificates: bytes | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._address = address
        options = channel_options(max_message_bytes) + [
            # A replica that restarts is reachable again within ~2 s.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ]
        if root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates)
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = pb_grpc.PredictionServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._closed = False

    @property
    def address(self) -> str:
        return self._address

    def _call(self, method: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except grpc.RpcError as exc:
            code = exc.code()
            details = exc.details() or ""
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise UsageError(details) from exc
            raise ServingError(
                f"{method} to {self._address} failed: {code.name}: {details}"
            ) from exc

    def predict(self, request: PredictRequest, timeout: float = 10.0) -> PredictResult:
        message = codec.request_to_proto(request)
        response = self._call(
            "Predict", lambda: self._stub.Predict(message, timeout=timeout)
        )
        return codec.result_from_proto(response)

    def push_delta(self, delta: EmbeddingDelta, timeout: float = 3.0) -> DeltaOutcome:
        message = codec.delta_to_proto(delta)
        response = self._call(
            "PushDelta", lambda: self._stub.PushDelta(message, timeout=timeout)
        )
        return codec.outcome_from_proto(response)

    def status(self, timeout: float = 3.0) -> ModelStatus:
        response = self._call(
            "ModelStatus",
            lambda: self._stub.ModelStatus(pb.ModelStatusRequest(), timeout=timeout),
        )
        return codec.status_from_proto(response)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._channel.close()
