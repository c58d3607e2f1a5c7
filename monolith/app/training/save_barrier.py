"""The save barrier of the local cluster: the domain state machine behind a lock.

:class:`~monolith.domain.barrier.BarrierState` decides every transition; this
class only holds the current state, wakes waiting threads when it changes and
does the waiting the domain never does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from monolith.domain.barrier import BarrierState, EpochStatus
from monolith.ports.clock import Clock

logger = logging.getLogger(__name__)

T = TypeVar("T")

_POLL_SECS = 0.05


class SaveBarrier:
    """A barrier shared by the chief (worker 0) and workers ``1..capacity-1``.

    Args:
        capacity: Workers including the chief.
        clock: Monotonic time for the pending limit.
        max_pending_secs: How long the chief waits for workers to block before
            it carries out the action anyway; None waits for all.
    """

    def __init__(
        self, capacity: int, clock: Clock, max_pending_secs: float | None = 30.0
    ) -> None:
        self._clock = clock
        self._max_pending_secs = max_pending_secs
        self._cond = threading.Condition()
        self._state = BarrierState.new(capacity)
        self._aborted = False

    @property
    def state(self) -> BarrierState:
        """The current state (an immutable value)."""
        with self._cond:
            return self._state

    def join(self, index: int) -> None:
        """Worker ``index`` (> 0) takes part in barriers from now on."""
        with self._cond:
            self._state = self._state.join(index)
            self._cond.notify_all()

    def leave(self, index: int) -> None:
        """Worker ``index`` stopped; the chief no longer waits for it."""
        with self._cond:
            self._state = self._state.leave(index)
            self._cond.notify_all()

    def abort(self) -> None:
        """Wake every waiter for good (the run is stopping)."""
        with self._cond:
            self._aborted = True
            self._cond.notify_all()

    def run_as_chief(self, action: str, fn: Callable[[], T]) -> T:
        """Place a barrier, wait until workers are blocked, run ``fn``, release.

        The barrier is removed even when ``fn`` raises.
        """
        with self._cond:
            self._state = self._state.place(
                action,
                now=self._clock.monotonic(),
                max_pending_secs=self._max_pending_secs,
            )
            epoch = self._state.epoch
            self._cond.notify_all()
            while not self._aborted:
                decision = self._state.decide(self._clock.monotonic())
                if decision.proceed:
                    if decision.unblocked:
                        logger.warning(
                            "barrier pending limit passed epoch=%d unblocked=%s",
                            epoch,
                            ",".join(map(str, decision.unblocked)),
                        )
                    break
                self._cond.wait(_POLL_SECS)
        try:
            return fn()
        finally:
            with self._cond:
                self._state = self._state.remove()
                self._cond.notify_all()
            logger.debug("barrier released epoch=%d action=%s", epoch, action)

    def pass_as_worker(self, index: int) -> int | None:
        """Block worker ``index`` if a barrier is placed, until it is released.

        Returns:
            The epoch the worker waited on, or None when none was placed.

        Raises:
            BarrierError: the worker is not running (never joined or left).
        """
        with self._cond:
            if not self._state.placed:
                if index not in self._state.running:
                    # Same check and message as the state machine's.
                    self._state.block(index, max(self._state.epoch, 1))
                return None
            epoch = self._state.epoch
            self._state = self._state.block(index, epoch)
            self._cond.notify_all()
            while (
                not self._aborted and self._state.status(epoch) is EpochStatus.WAITING
            ):
                self._cond.wait(_POLL_SECS)
            return epoch
