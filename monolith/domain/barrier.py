"""The save barrier as a state machine with numbered epochs (decision 9).

The chief (worker 0) places a barrier with an action such as ``"save"``; that
opens epoch ``k`` (1, 2, ...). Every running worker ``i`` (``0 < i <
capacity``) reports that it is blocked on epoch ``k``. The chief may carry out
the action once every running worker is blocked, or once the pending limit has
passed; it then removes the barrier, which releases epoch ``k``. The status of
an epoch is ``WAITING`` while its barrier is placed and ``RELEASED`` after.

States are immutable: each transition returns a new :class:`BarrierState` or
raises :class:`~monolith.domain.errors.BarrierError` and changes nothing. The
local cluster calls the transitions directly; the distributed runtime carries
the same calls over RPC, which is why joining, leaving and blocking are
idempotent. Time is always an argument.

Example::

    state = BarrierState.new(capacity=3).join(1).join(2)
    state = state.place("save", now=0.0, max_pending_secs=30.0)   # epoch 1
    state = state.block(1, epoch=1).block(2, epoch=1)
    assert state.decide(now=1.0).proceed                           # all blocked
    state = state.remove()
    assert state.status(1) is EpochStatus.RELEASED
"""

from __future__ import annotations

import enum
import logging

import attrs

from monolith.domain.errors import BarrierAlreadyPlacedError, BarrierError

logger = logging.getLogger(__name__)


class EpochStatus(enum.Enum):
    """Where a barrier epoch stands."""

    WAITING = "waiting"
    RELEASED = "released"


class Readiness(enum.Enum):
    """Why the chief may, or may not yet, carry out a barrier's action."""

    WAITING = "waiting"
    ALL_BLOCKED = "all_blocked"
    PENDING_LIMIT_PASSED = "pending_limit_passed"


@attrs.frozen
class ChiefDecision:
    """The answer of :meth:`BarrierState.decide`."""

    readiness: Readiness
    epoch: int
    unblocked: tuple[int, ...]

    @property
    def proceed(self) -> bool:
        """True when the chief should carry out the action now."""
        return self.readiness is not Readiness.WAITING


@attrs.frozen
class BarrierState:
    """One barrier shared by the chief and ``capacity - 1`` workers.

    Attributes:
        capacity: The number of workers including the chief; worker indices
            run from 1 to ``capacity - 1``.
        epoch: The number of the latest epoch opened; 0 before the first.
        placed: Whether epoch ``epoch`` is open (its barrier is placed).
        action: The action of the open epoch, None when none is open.
        placed_at: When the open epoch was placed.
        max_pending_secs: How long the chief waits for blocked workers in the
            open epoch; None waits until all are blocked.
        running: Workers that joined and have not left.
        blocked: Running workers blocked on the open epoch.
    """

    capacity: int
    epoch: int = 0
    placed: bool = False
    action: str | None = None
    placed_at: float | None = None
    max_pending_secs: float | None = None
    running: frozenset[int] = frozenset()
    blocked: frozenset[int] = frozenset()

    def __attrs_post_init__(self) -> None:
        problems = self.violations()
        if problems:
            raise BarrierError(f"invalid barrier state: {'; '.join(problems)}")

    @classmethod
    def new(cls, capacity: int, running: tuple[int, ...] = ()) -> BarrierState:
        """A barrier with no epoch opened yet.

        Args:
            capacity: The number of workers including the chief (>= 1).
            running: Workers that are already running.

        Raises:
            BarrierError: ``capacity`` is below 1 or an index is out of range.
        """
        if capacity < 1:
            raise BarrierError(
                f"barrier capacity must be >= 1 (the chief plus its workers), "
                f"got {capacity}"
            )
        for index in running:
            _check_index(index, capacity)
        return cls(capacity=capacity, running=frozenset(running))

    def violations(self) -> list[str]:
        """Every invariant this state breaks; empty for a legal state."""
        problems = []
        if self.capacity < 1:
            problems.append(f"capacity {self.capacity} < 1")
        if self.epoch < 0:
            problems.append(f"epoch {self.epoch} < 0")
        if self.placed and self.epoch == 0:
            problems.append("placed before any epoch was opened")
        if self.placed != (self.action is not None):
            problems.append("an action is set exactly when a barrier is placed")
        if self.placed != (self.placed_at is not None):
            problems.append("placed_at is set exactly when a barrier is placed")
        if not self.placed and self.max_pending_secs is not None:
            problems.append("max_pending_secs is set only while placed")
        if self.max_pending_secs is not None and self.max_pending_secs < 0:
            problems.append(f"max_pending_secs {self.max_pending_secs} < 0")
        bad = sorted(i for i in self.running if not 0 < i < self.capacity)
        if bad:
            problems.append(
                f"running indices {bad} outside 0 < index < {self.capacity}"
            )
        if not self.blocked <= self.running:
            problems.append(
                f"blocked {sorted(self.blocked - self.running)} not running"
            )
        if self.blocked and not self.placed:
            problems.append("workers blocked while no barrier is placed")
        return problems

    # Transitions the chief makes.

    def place(
        self, action: str, *, now: float, max_pending_secs: float | None = None
    ) -> BarrierState:
        """Open the next epoch with ``action``.

        Args:
            action: What the chief will do once workers are blocked.
            now: The current time.
            max_pending_secs: How long to wait for blocked workers; None waits
                until every running worker is blocked.

        Raises:
            BarrierAlreadyPlacedError: a barrier is already placed.
            BarrierError: ``max_pending_secs`` is negative.
        """
        if self.placed:
            raise BarrierAlreadyPlacedError(
                f"cannot place barrier {action!r}: epoch {self.epoch} with action "
                f"{self.action!r} is still placed; remove it first"
            )
        if max_pending_secs is not None and max_pending_secs < 0:
            raise BarrierError(
                f"max_pending_secs must be >= 0 or None, got {max_pending_secs}"
            )
        return attrs.evolve(
            self,
            epoch=self.epoch + 1,
            placed=True,
            action=action,
            placed_at=now,
            max_pending_secs=max_pending_secs,
        )

    def remove(self) -> BarrierState:
        """Release the open epoch; every blocked worker may continue.

        Raises:
            BarrierError: no barrier is placed.
        """
        if not self.placed:
            raise BarrierError(
                f"cannot remove the barrier: none is placed (epoch {self.epoch} "
                "is already released); remove must follow place"
            )
        return attrs.evolve(
            self,
            placed=False,
            action=None,
            placed_at=None,
            max_pending_secs=None,
            blocked=frozenset(),
        )

    def decide(self, now: float) -> ChiefDecision:
        """Whether the chief may carry out the open epoch's action now.

        Args:
            now: The current time, on the clock used for :meth:`place`.

        Returns:
            ``ALL_BLOCKED`` once every running worker is blocked,
            ``PENDING_LIMIT_PASSED`` once ``max_pending_secs`` has passed since
            placing, else ``WAITING``; with the workers not yet blocked.

        Raises:
            BarrierError: no barrier is placed.
        """
        if not self.placed or self.placed_at is None:
            raise BarrierError(
                "cannot decide on the barrier: none is placed; place it first"
            )
        unblocked = self.unblocked_indices()
        if not unblocked:
            readiness = Readiness.ALL_BLOCKED
        elif (
            self.max_pending_secs is not None
            and now - self.placed_at >= self.max_pending_secs
        ):
            readiness = Readiness.PENDING_LIMIT_PASSED
        else:
            readiness = Readiness.WAITING
        return ChiefDecision(readiness=readiness, epoch=self.epoch, unblocked=unblocked)

    # Transitions each worker makes.

    def join(self, index: int) -> BarrierState:
        """Worker ``index`` is running and takes part from now on (idempotent).

        Raises:
            BarrierError: ``index`` is not in ``0 < index < capacity``.
        """
        _check_index(index, self.capacity)
        return attrs.evolve(self, running=self.running | {index})

    def leave(self, index: int) -> BarrierState:
        """Worker ``index`` stopped; the chief no longer waits for it (idempotent).

        Raises:
            BarrierError: ``index`` is not in ``0 < index < capacity``.
        """
        _check_index(index, self.capacity)
        return attrs.evolve(
            self, running=self.running - {index}, blocked=self.blocked - {index}
        )

    def block(self, index: int, epoch: int) -> BarrierState:
        """Worker ``index`` reports that it is blocked on ``epoch``.

        Blocking twice is the same as once. Blocking on an epoch that was
        already released changes nothing; :meth:`status` then tells the
        worker to continue.

        Raises:
            BarrierError: ``index`` is out of range, the worker is not running,
                or ``epoch`` was never opened.
        """
        _check_index(index, self.capacity)
        if index not in self.running:
            raise BarrierError(
                f"worker {index} cannot enter the barrier: it is not running; "
                "join it before it blocks"
            )
        if not 1 <= epoch <= self.epoch:
            raise BarrierError(
                f"worker {index} cannot block on epoch {epoch}: expected "
                f"1 <= epoch <= {self.epoch}, the latest epoch opened"
            )
        if epoch < self.epoch or not self.placed:
            return self
        return attrs.evolve(self, blocked=self.blocked | {index})

    # Queries.

    def status(self, epoch: int) -> EpochStatus:
        """``WAITING`` while ``epoch`` is placed, ``RELEASED`` once removed.

        Raises:
            BarrierError: ``epoch`` was never opened.
        """
        if not 1 <= epoch <= self.epoch:
            raise BarrierError(
                f"epoch {epoch} was never opened: expected 1 <= epoch <= {self.epoch}"
            )
        if epoch == self.epoch and self.placed:
            return EpochStatus.WAITING
        return EpochStatus.RELEASED

    def should_block(self, index: int) -> bool:
        """Whether running worker ``index`` must block after its current step."""
        _check_index(index, self.capacity)
        return self.placed and index in self.running and index not in self.blocked

    def is_all_blocked(self) -> bool:
        """A barrier is placed and every running worker is blocked on it."""
        return self.placed and self.running <= self.blocked

    def is_none_blocked(self) -> bool:
        """No worker is blocked."""
        return not self.blocked

    def blocked_indices(self) -> tuple[int, ...]:
        """Workers blocked on the open epoch, ascending."""
        return tuple(sorted(self.blocked))

    def unblocked_indices(self) -> tuple[int, ...]:
        """Running workers not (yet) blocked on the open epoch, ascending."""
        return tuple(sorted(self.running - self.blocked))


def _check_index(index: int, capacity: int) -> None:
    if not 0 < index < capacity:
        raise BarrierError(
            f"worker index {index} is out of range: expected 0 < index < {capacity}"
        )
