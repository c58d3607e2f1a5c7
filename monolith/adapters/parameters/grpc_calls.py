"""Unary calls to parameter servers over grpcio: one channel per shard,
UNAVAILABLE retried with backoff until a deadline, errors named by shard."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from monolith.adapters.parameters.grpc_server import SERVICE_NAME, channel_options
from monolith.domain.errors import (
    ParameterStoreError,
    ShardUnavailableError,
    UsageError,
)
from monolith.proto import parameter_server_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

_RETRIED = (grpc.StatusCode.UNAVAILABLE,)


class ShardCalls:
    """Calls to the servers at ``addresses`` (shard ``i`` at index ``i``).

    A call whose server answers UNAVAILABLE is retried, with doubling,
    jittered pauses from ``initial_backoff`` up to ``max_backoff``, until
    ``deadline`` seconds have passed; then, or when a call exceeds the
    deadline, it raises ShardUnavailableError naming the address. A request
    the server refuses raises UsageError (bad argument) or
    ParameterStoreError (anything else).
    """

    def __init__(
        self,
        addresses: Sequence[str],
        deadline: float,
        *,
        max_message_bytes: int,
        initial_backoff: float,
        max_backoff: float,
    ) -> None:
        self.addresses = list(addresses)
        self.deadline = deadline
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

    def _unavailable(self, shard: int, what: str, exc: grpc.RpcError) -> Exception:
        return ShardUnavailableError(
            f"parameter server shard {shard} at {self.addresses[shard]} is "
            f"unavailable: {what} ({exc.code().name}: {exc.details()})"
        )

    def _translate(self, shard: int, method: str, exc: grpc.RpcError) -> Exception:
        code = exc.code()
        where = f"shard {shard} at {self.addresses[shard]}"
        detail = exc.details() or ""
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return UsageError(f"{method} refused by {where}: {detail}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return self._unavailable(
                shard, f"{method} exceeded its {self.deadline:.1f}s deadline", exc
            )
        if code == grpc.StatusCode.UNAVAILABLE:
            return self._unavailable(
                shard, f"{method} still failing after {self.deadline:.1f}s", exc
            )
        return ParameterStoreError(f"{method} failed on {where}: {detail}")

    def call(self, shard: int, method: str, request: Any) -> Any:
        """One unary call with UNAVAILABLE retried until the deadline."""
        if self._closed:
            raise ParameterStoreError("GrpcParameterStore is closed")
        rpc: Callable[..., Any] = getattr(self._stubs[shard], method)
        end = time.monotonic() + self.deadline
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

    def fan_out(self, method: str, requests: Mapping[int, Any]) -> dict[int, Any]:
        """Send one request per shard concurrently; retry per shard as needed."""
        if len(requests) == 1:
            ((shard, request),) = requests.items()
            return {shard: self.call(shard, method, request)}
        pending = {
            shard: getattr(self._stubs[shard], method).future(
                request, timeout=self.deadline
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
                        results[shard] = self.call(shard, method, requests[shard])
                    except Exception as retry_exc:
                        failure = failure or retry_exc
                else:
                    failure = failure or self._translate(shard, method, exc)
        if failure is not None:
            raise failure
        return results

    def all(self, method: str, request: Any) -> dict[int, Any]:
        """The same request to every shard, concurrently."""
        return self.fan_out(method, dict.fromkeys(range(len(self.addresses)), request))

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
                        f"parameter server shard {shard} at {self.addresses[shard]} "
                        f"is not SERVING after {timeout:.1f}s"
                    )
                time.sleep(0.05)

    def close(self) -> None:
        """Close every channel (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for channel in self._channels:
            channel.close()
