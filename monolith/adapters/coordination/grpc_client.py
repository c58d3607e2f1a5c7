"""The worker's side of the chief's coordinator, over grpcio."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from monolith.adapters.coordination.grpc_server import view_from_proto
from monolith.domain.coordination import CoordView
from monolith.domain.errors import BarrierError, CoordinatorUnavailableError
from monolith.proto import coordinator_pb2 as pb
from monolith.proto import coordinator_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)


class GrpcCoordinatorClient:
    """Coordinator port over gRPC to the service the chief hosts.

    Backend: grpcio, one channel to ``address`` (the chief's coordinator,
    found in discovery as ``chief.0``). Config: ``deadline`` (seconds one call
    may take, retries of UNAVAILABLE included; ``max_rpc_deadline_millis``).

    A chief still unreachable at the deadline raises
    CoordinatorUnavailableError naming the address; a transition the chief
    refuses raises BarrierError with the chief's message.
    """

    def __init__(self, address: str, deadline: float = 30.0) -> None:
        if deadline <= 0:
            raise BarrierError(f"deadline must be > 0 seconds, got {deadline}")
        self.address = address
        self._deadline = deadline
        self._channel = grpc.insecure_channel(address)
        self._stub = pb_grpc.CoordinatorStub(self._channel)  # type: ignore[no-untyped-call]
        self._closed = False
        self._lock = threading.Lock()

    def _call(self, method: str, request: Any) -> CoordView:
        if self._closed:
            raise BarrierError("GrpcCoordinatorClient is closed")
        rpc: Callable[..., Any] = getattr(self._stub, method)
        end = time.monotonic() + self._deadline
        backoff = 0.05
        while True:
            remaining = end - time.monotonic()
            try:
                return view_from_proto(rpc(request, timeout=max(remaining, 0.001)))
            except grpc.RpcError as exc:
                code = exc.code()
                remaining = end - time.monotonic()
                if code == grpc.StatusCode.UNAVAILABLE and remaining > 0:
                    time.sleep(min(backoff * (0.5 + random.random()), remaining))
                    backoff = min(backoff * 2, 1.0)
                    continue
                if code in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                ):
                    raise CoordinatorUnavailableError(
                        f"the chief's coordinator at {self.address} did not answer "
                        f"{method} within {self._deadline:.1f}s ({code.name}); "
                        "check that worker 0 is running"
                    ) from None
                raise BarrierError(
                    f"{method} refused by the coordinator at {self.address}: "
                    f"{exc.details()}"
                ) from None

    def join(self, index: int) -> CoordView:
        return self._call("Join", pb.WorkerRequest(index=index))

    def leave(self, index: int) -> CoordView:
        return self._call("Leave", pb.WorkerRequest(index=index))

    def claim(self, index: int) -> CoordView:
        return self._call("Claim", pb.WorkerRequest(index=index))

    def block(self, index: int, epoch: int) -> CoordView:
        return self._call("Block", pb.BlockRequest(index=index, epoch=epoch))

    def status(self, index: int, epoch: int = 0) -> CoordView:
        return self._call("Status", pb.StatusRequest(index=index, epoch=epoch))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._channel.close()
