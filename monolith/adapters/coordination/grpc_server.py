"""The chief's coordinator: domain state behind a lock, served over gRPC.

The chief worker calls :class:`CoordinatorServer` methods in process (place,
wait, remove the save barrier; claim its own steps; mark its restore; finish)
while the other workers reach the same state through the
``monolith.coord.Coordinator`` service with
:class:`~monolith.adapters.coordination.grpc_client.GrpcCoordinatorClient`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any, TypeVar

import grpc

from monolith.domain.coordination import Coordination, CoordView
from monolith.domain.errors import BarrierError, MonolithError
from monolith.ports.clock import Clock
from monolith.proto import coordinator_pb2 as pb
from monolith.proto import coordinator_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

T = TypeVar("T")

_POLL_SECS = 0.05


def view_to_proto(view: CoordView) -> pb.CoordState:
    """The wire form of a :class:`CoordView`."""
    return pb.CoordState(
        claimed_step=view.claimed_step,
        global_step=view.global_step,
        epoch=view.epoch,
        placed=view.placed,
        action=view.action,
        released=view.released,
        restored=view.restored,
        finished=view.finished,
        restored_step=view.restored_step,
        generation=view.generation,
    )


def view_from_proto(message: Any) -> CoordView:
    """Inverse of :func:`view_to_proto`."""
    return CoordView(
        claimed_step=message.claimed_step,
        global_step=message.global_step,
        epoch=message.epoch,
        placed=message.placed,
        action=message.action,
        released=message.released,
        restored=message.restored,
        restored_step=message.restored_step,
        finished=message.finished,
        generation=message.generation,
    )


class CoordinatorServer:
    """The coordinator the chief hosts, and its gRPC service.

    Backend: grpcio, the ``monolith.coord.Coordinator`` service of
    ``monolith/proto/coordinator.proto``. Config: ``num_workers``,
    ``start_step``/``max_steps`` (global step range), ``max_pending_secs``
    (``max_pending_seconds_for_barrier``: how long a save waits for workers
    to block) and ``liveness_secs`` (a worker silent this long is taken as
    gone; defaults to ``max_pending_secs``, or 30 s).

    Known limits: the state lives in the chief's memory only; a restarted
    chief starts a new coordination and workers rejoin it.
    """

    def __init__(
        self,
        num_workers: int,
        clock: Clock,
        *,
        start_step: int = 0,
        max_steps: int | None = None,
        max_pending_secs: float | None = 30.0,
        liveness_secs: float | None = None,
    ) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._state = Coordination.new(
            num_workers, start_step=start_step, max_steps=max_steps
        )
        self._max_pending_secs = max_pending_secs
        if liveness_secs is None:
            liveness_secs = max_pending_secs if max_pending_secs else 30.0
        self._liveness_secs = liveness_secs
        self._server: grpc.Server | None = None
        self.port = 0
        self.host = "127.0.0.1"

    # ------------------------------------------------------------ state

    @property
    def state(self) -> Coordination:
        """The current coordination state (an immutable value)."""
        with self._cond:
            return self._expired()

    @property
    def global_step(self) -> int:
        """The highest global step granted so far."""
        with self._cond:
            return self._state.global_step

    def _expired(self) -> Coordination:
        """Expire silent workers; call with the lock held."""
        state, gone = self._state.expire(self._clock.monotonic(), self._liveness_secs)
        if gone:
            logger.warning(
                "workers expired indices=%s silent_secs=%.1f",
                ",".join(map(str, gone)),
                self._liveness_secs,
            )
            self._state = state
            self._cond.notify_all()
        return self._state

    def _apply(
        self, change: Callable[[Coordination, float], tuple[Coordination, T]]
    ) -> T:
        with self._cond:
            self._expired()
            state, result = change(self._state, self._clock.monotonic())
            self._state = state
            self._cond.notify_all()
            return result

    # ------------------------------------------------------------ worker calls

    def join(self, index: int) -> CoordView:
        def change(state: Coordination, now: float) -> tuple[Coordination, CoordView]:
            joined = state.join(index, now)
            return joined, joined.view()

        logger.info("worker joined index=%d", index)
        return self._apply(change)

    def leave(self, index: int) -> CoordView:
        def change(state: Coordination, now: float) -> tuple[Coordination, CoordView]:
            left = state.leave(index)
            return left, left.view()

        logger.info("worker left index=%d", index)
        return self._apply(change)

    def claim(self, index: int) -> CoordView:
        return self._apply(lambda s, now: s.claim(index, now))

    def block(self, index: int, epoch: int) -> CoordView:
        return self._apply(lambda s, now: s.block(index, epoch, now))

    def status(self, index: int, epoch: int = 0) -> CoordView:
        return self._apply(lambda s, now: s.status(index, epoch, now))

    # ------------------------------------------------------------ chief calls

    def mark_restored(self, step: int) -> None:
        """Tell the workers the chief restored ``step`` (0: none); they start."""
        with self._cond:
            self._state = self._state.mark_restored(step)
            self._cond.notify_all()
        logger.info("coordinator restore marked step=%d", step)

    def rewind(self, step: int) -> None:
        """Restart the global step at ``step`` after recovering the PS."""
        with self._cond:
            self._state = self._state.rewind(step)
            self._cond.notify_all()
        logger.info(
            "coordinator rewound step=%d generation=%d", step, self._state.generation
        )

    def finish(self) -> None:
        """End training: no more steps; workers stop at their next call."""
        with self._cond:
            self._state = self._state.finish()
            self._cond.notify_all()

    def run_barrier(self, action: str, fn: Callable[[], T]) -> T:
        """Place a barrier, wait for the workers (or the pending limit), run ``fn``.

        The barrier is removed even when ``fn`` raises.
        """
        with self._cond:
            self._state = self._expired().place(
                action, self._clock.monotonic(), self._max_pending_secs
            )
            epoch = self._state.barrier.epoch
            self._cond.notify_all()
            while True:
                decision = self._expired().decide(self._clock.monotonic())
                if decision.proceed:
                    break
                self._cond.wait(_POLL_SECS)
        if decision.unblocked:
            logger.warning(
                "barrier pending limit passed epoch=%d unblocked=%s",
                epoch,
                ",".join(map(str, decision.unblocked)),
            )
        try:
            return fn()
        finally:
            with self._cond:
                self._state = self._state.remove()
                self._cond.notify_all()
            logger.info("barrier released epoch=%d action=%s", epoch, action)

    def wait_workers_gone(self, timeout: float) -> tuple[int, ...]:
        """Wait until no other worker runs, or ``timeout`` seconds passed.

        Returns:
            The workers still running at the end (empty when all left).
        """
        end = self._clock.monotonic() + timeout
        with self._cond:
            while self._expired().running() and self._clock.monotonic() < end:
                self._cond.wait(_POLL_SECS)
            return self._state.running()

    # ------------------------------------------------------------ serving

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the coordinator on ``host:port`` (0: a free port); return the address.

        Raises:
            BarrierError: the address cannot be bound.
        """
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="coord")
        )
        pb_grpc.add_CoordinatorServicer_to_server(  # type: ignore[no-untyped-call]
            _Servicer(self), server
        )
        address = _format(host, port)
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise BarrierError(f"cannot bind coordinator to {address}") from exc
        if bound == 0:
            raise BarrierError(f"cannot bind coordinator to {address}")
        server.start()
        self._server = server
        self.host = host
        self.port = bound
        logger.info("coordinator started address=%s", self.address)
        return self.address

    @property
    def address(self) -> str:
        """``host:port`` of the running service."""
        return _format(self.host, self.port)

    def stop(self, grace: float = 1.0) -> None:
        """Stop serving (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace).wait()
            logger.info("coordinator stopped address=%s", self.address)


def _format(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


class _Servicer(pb_grpc.CoordinatorServicer):
    def __init__(self, coordinator: CoordinatorServer) -> None:
        self._coordinator = coordinator

    def _run(
        self, context: grpc.ServicerContext, call: Callable[[], CoordView]
    ) -> pb.CoordState:
        try:
            return view_to_proto(call())
        except BarrierError as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except MonolithError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise AssertionError("context.abort returned")  # abort always raises

    def Join(self, request: Any, context: grpc.ServicerContext) -> pb.CoordState:
        return self._run(context, lambda: self._coordinator.join(request.index))

    def Leave(self, request: Any, context: grpc.ServicerContext) -> pb.CoordState:
        return self._run(context, lambda: self._coordinator.leave(request.index))

    def Claim(self, request: Any, context: grpc.ServicerContext) -> pb.CoordState:
        return self._run(context, lambda: self._coordinator.claim(request.index))

    def Block(self, request: Any, context: grpc.ServicerContext) -> pb.CoordState:
        return self._run(
            context, lambda: self._coordinator.block(request.index, request.epoch)
        )

    def Status(self, request: Any, context: grpc.ServicerContext) -> pb.CoordState:
        return self._run(
            context, lambda: self._coordinator.status(request.index, request.epoch)
        )
