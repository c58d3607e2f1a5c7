"""What the chief coordinates in a multi-process job, as one immutable state.

The chief worker hosts a coordinator; the other workers call it over RPC
(:mod:`monolith.ports.coordination`). It combines:

* the save barrier (:class:`~monolith.domain.barrier.BarrierState`,
  decision 9): the chief places, workers block, the chief removes;
* the global step: each worker claims the next step before running it, so
  ``max_steps`` counts steps of all workers together, as in one process; no
  step is granted before the chief restored, while a barrier is placed, after
  ``max_steps`` or once the chief finished;
* liveness: every call is a heartbeat, and a worker silent for longer than
  the liveness limit leaves (so a worker killed with ``kill -9`` stops
  holding barriers up);
* the chief's restore flag (decision 5) and the end of training.

Every transition returns a new :class:`Coordination`; time is an argument.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import attrs

from monolith.domain.barrier import BarrierState, ChiefDecision, EpochStatus
from monolith.domain.errors import BarrierError

logger = logging.getLogger(__name__)


@attrs.frozen
class CoordView:
    """What a worker learns from one coordinator call.

    Attributes:
        claimed_step: The global step granted by a claim; 0 when none was.
        global_step: The highest step granted so far.
        epoch: The latest barrier epoch opened (0 before any).
        placed: A barrier is placed: the worker must block on ``epoch``.
        action: The placed barrier's action, "" when none is placed.
        released: The epoch asked about (in a status call) is released.
        restored: The chief finished its restore; training may start.
        restored_step: The checkpoint step the chief restored (0 for none).
        finished: The chief ended training; the worker stops.
        generation: How many times the chief recovered the parameter
            servers; a worker reconnects when it grows.
    """

    claimed_step: int = 0
    global_step: int = 0
    epoch: int = 0
    placed: bool = False
    action: str = ""
    released: bool = False
    restored: bool = False
    restored_step: int = 0
    finished: bool = False
    generation: int = 0


@attrs.frozen
class Coordination:
    """The chief's coordination state.

    Attributes:
        barrier: The save barrier; capacity is the number of workers.
        global_step: The highest step granted so far.
        max_steps: No step above this is granted; None grants until finished.
        restored: The chief finished restoring.
        restored_step: The step the chief restored, 0 for none.
        finished: Training ended; no more steps are granted.
        last_seen: When each running worker last called.
        generation: How many times the chief recovered the parameter servers.
    """

    barrier: BarrierState
    global_step: int = 0
    max_steps: int | None = None
    restored: bool = False
    restored_step: int = 0
    finished: bool = False
    last_seen: Mapping[int, float] = attrs.field(factory=dict)
    generation: int = 0

    @classmethod
    def new(
        cls, num_workers: int, *, start_step: int = 0, max_steps: int | None = None
    ) -> Coordination:
        """A coordination for ``num_workers`` workers (the chief included).

        Raises:
            BarrierError: ``num_workers`` is below 1.
        """
        return cls(
            barrier=BarrierState.new(num_workers),
            global_step=start_step,
            max_steps=max_steps,
        )

    # ------------------------------------------------------------ workers

    def join(self, index: int, now: float) -> Coordination:
        """Worker ``index`` runs and takes part in barriers (idempotent)."""
        return attrs.evolve(
            self, barrier=self.barrier.join(index), last_seen=self._seen(index, now)
        )

    def leave(self, index: int) -> Coordination:
        """Worker ``index`` stopped; barriers no longer wait for it (idempotent)."""
        seen = dict(self.last_seen)
        seen.pop(index, None)
        return attrs.evolve(self, barrier=self.barrier.leave(index), last_seen=seen)

    def claim(self, index: int, now: float) -> tuple[Coordination, CoordView]:
        """Worker ``index`` (0 for the chief) asks for the next global step.

        No step is granted before the chief marked its restore. A worker that
        is not running (it left or was expired) joins again.
        """
        state = self if index == 0 else self._touch(index, now)
        blocked = state.barrier.placed or not state.restored
        if state.finished or blocked or state._at_max():
            return state, state.view()
        granted = state.global_step + 1
        state = attrs.evolve(state, global_step=granted)
        return state, state.view(claimed_step=granted)

    def block(
        self, index: int, epoch: int, now: float
    ) -> tuple[Coordination, CoordView]:
        """Worker ``index`` reports being blocked on ``epoch``.

        Raises:
            BarrierError: the index is out of range or ``epoch`` was never opened.
        """
        state = self._touch(index, now)
        state = attrs.evolve(state, barrier=state.barrier.block(index, epoch))
        return state, state.view(epoch_asked=epoch)

    def status(
        self, index: int, epoch: int, now: float
    ) -> tuple[Coordination, CoordView]:
        """A heartbeat from worker ``index``, with the status of ``epoch`` (0: none).

        Raises:
            BarrierError: the index is out of range or ``epoch`` was never opened.
        """
        state = self._touch(index, now)
        return state, state.view(epoch_asked=epoch)

    def expire(self, now: float, limit: float) -> tuple[Coordination, tuple[int, ...]]:
        """Workers silent for more than ``limit`` seconds leave.

        Returns:
            The new state and the indices that left, ascending.
        """
        silent = tuple(
            sorted(i for i, seen in self.last_seen.items() if now - seen > limit)
        )
        state = self
        for index in silent:
            state = state.leave(index)
        return state, silent

    # ------------------------------------------------------------ chief

    def place(
        self, action: str, now: float, max_pending_secs: float | None
    ) -> Coordination:
        """The chief opens the next barrier epoch (see ``BarrierState.place``)."""
        return attrs.evolve(
            self,
            barrier=self.barrier.place(
                action, now=now, max_pending_secs=max_pending_secs
            ),
        )

    def decide(self, now: float) -> ChiefDecision:
        """Whether the chief may carry out the placed barrier's action now."""
        return self.barrier.decide(now)

    def remove(self) -> Coordination:
        """The chief releases the placed epoch."""
        return attrs.evolve(self, barrier=self.barrier.remove())

    def mark_restored(self, step: int) -> Coordination:
        """The chief restored checkpoint ``step`` (0: none) and training may start.

        The global step continues from ``step`` when that is ahead of it.
        """
        return attrs.evolve(
            self,
            restored=True,
            restored_step=step,
            global_step=max(self.global_step, step),
        )

    def rewind(self, step: int) -> Coordination:
        """The chief recovered the PS from checkpoint ``step``: steps restart there.

        The generation grows, telling workers to reconnect to the PS.
        """
        return attrs.evolve(
            self, global_step=step, restored_step=step, generation=self.generation + 1
        )

    def finish(self) -> Coordination:
        """Training ended: no more steps are granted, every worker stops."""
        return attrs.evolve(self, finished=True)

    def running(self) -> tuple[int, ...]:
        """Running workers other than the chief, ascending."""
        return tuple(sorted(self.barrier.running))

    # ------------------------------------------------------------ views

    def view(self, *, claimed_step: int = 0, epoch_asked: int = 0) -> CoordView:
        """The state as a worker sees it.

        Raises:
            BarrierError: ``epoch_asked`` is neither 0 nor an opened epoch.
        """
        released = False
        if epoch_asked:
            released = self.barrier.status(epoch_asked) is EpochStatus.RELEASED
        return CoordView(
            claimed_step=claimed_step,
            global_step=self.global_step,
            epoch=self.barrier.epoch,
            placed=self.barrier.placed,
            action=self.barrier.action or "",
            released=released,
            restored=self.restored,
            restored_step=self.restored_step,
            finished=self.finished,
            generation=self.generation,
        )

    def _at_max(self) -> bool:
        return self.max_steps is not None and self.global_step >= self.max_steps

    def _seen(self, index: int, now: float) -> dict[int, float]:
        seen = dict(self.last_seen)
        seen[index] = now
        return seen

    def _touch(self, index: int, now: float) -> Coordination:
        if index == 0:
            raise BarrierError(
                "worker 0 is the chief: it hosts the coordinator and never calls it"
            )
        if index in self.barrier.running:
            return attrs.evolve(self, last_seen=self._seen(index, now))
        if self.finished:
            # Too late to join: the worker only learns that training ended.
            self.barrier.join(index)  # still checks the index range
            return self
        logger.info("worker rejoined index=%d", index)
        return self.join(index, now)
