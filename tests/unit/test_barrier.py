"""The save barrier's epoch state machine (decision 9, BEHAVIOUR.md §7.4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.barrier import BarrierState, EpochStatus, Readiness
from monolith.domain.errors import BarrierAlreadyPlacedError, BarrierError

pytestmark = pytest.mark.unit


def running(capacity: int) -> BarrierState:
    return BarrierState.new(capacity, running=tuple(range(1, capacity)))


def test_place_then_place_again_then_remove() -> None:
    """BEHAVIOUR.md §7.6 ``barrier_ops_test.py::test_basic``."""
    state = running(2).place("", now=0.0)
    assert state.placed

    with pytest.raises(BarrierAlreadyPlacedError, match="remove it first"):
        state.place("", now=1.0)

    state = state.remove()
    assert not state.placed


def test_placing_opens_numbered_epochs_one_after_another() -> None:
    state = running(2)

    first = state.place("save", now=0.0)
    second = first.remove().place("save", now=5.0)

    assert first.epoch == 1
    assert second.epoch == 2
    assert second.status(1) is EpochStatus.RELEASED
    assert second.status(2) is EpochStatus.WAITING


def test_an_epoch_waits_until_removed_then_is_released() -> None:
    state = running(3).place("save", now=0.0)

    state = state.block(1, 1).block(2, 1)
    assert state.status(1) is EpochStatus.WAITING

    state = state.remove()
    assert state.status(1) is EpochStatus.RELEASED


def test_a_worker_without_a_barrier_never_blocks() -> None:
    """BEHAVIOUR.md §7.6 ``test_barrier_hook_not_blocked``: 5 steps, no barrier."""
    state = running(2)
    global_step = 0

    for _ in range(5):
        global_step += 1
        assert not state.should_block(1)

    assert global_step == 5


def test_a_blocked_worker_continues_after_the_chief_removes_the_barrier() -> None:
    """BEHAVIOUR.md §7.6 ``test_barrier_hook_blocked``, driven without threads."""
    state = running(2).place("test_action", now=0.0)
    global_step = 0
    seen_actions = []

    global_step += 1
    assert state.should_block(1)
    seen_actions.append(state.action)
    state = state.block(1, state.epoch)
    epoch = state.epoch

    assert state.is_all_blocked()
    assert global_step == 1
    assert seen_actions == ["test_action"]

    state = state.remove()
    assert state.status(epoch) is EpochStatus.RELEASED
    while global_step < 5:
        global_step += 1
        assert not state.should_block(1)

    assert global_step == 5
    assert state.is_none_blocked()


def test_the_save_listener_waits_for_the_worker_then_saves_and_removes() -> None:
    """BEHAVIOUR.md §7.6 ``ckpt_hooks_test.py::test_saver_with_barrier``."""
    before_save = after_save = 0
    state = running(2).place("Save", now=0.0, max_pending_secs=30.0)

    assert not state.decide(now=1.0).proceed
    state = state.block(1, state.epoch)
    decision = state.decide(now=2.0)
    if decision.proceed:
        before_save += 1
        after_save += 1
        state = state.remove()

    assert (before_save, after_save) == (1, 1)
    assert decision.readiness is Readiness.ALL_BLOCKED
    assert not state.placed


def test_the_chief_proceeds_when_the_pending_limit_passes() -> None:
    state = running(4).place("save", now=100.0, max_pending_secs=30.0).block(2, 1)

    early = state.decide(now=129.9)
    late = state.decide(now=130.0)

    assert early.readiness is Readiness.WAITING
    assert late.readiness is Readiness.PENDING_LIMIT_PASSED
    assert late.proceed
    assert late.unblocked == (1, 3)


def test_without_a_pending_limit_the_chief_waits_for_every_worker() -> None:
    state = running(3).place("save", now=0.0).block(1, 1)

    assert not state.decide(now=1e9).proceed


def test_a_chief_alone_proceeds_at_once() -> None:
    state = BarrierState.new(1).place("save", now=0.0)

    assert state.decide(now=0.0).readiness is Readiness.ALL_BLOCKED


def test_an_out_of_range_worker_index_gives_the_message_of_the_check() -> None:
    state = running(3).place("save", now=0.0)

    with pytest.raises(BarrierError) as info:
        state.block(5, 1)

    assert str(info.value) == "worker index 5 is out of range: expected 0 < index < 3"


@pytest.mark.parametrize("index", [0, -1, 3], ids=["chief", "negative", "capacity"])
def test_indices_outside_the_workers_are_rejected_everywhere(index: int) -> None:
    state = running(3)

    for transition in (state.join, state.leave, state.should_block):
        with pytest.raises(BarrierError, match=f"worker index {index} is out of range"):
            transition(index)


def test_a_worker_that_is_not_running_cannot_enter() -> None:
    state = BarrierState.new(3, running=(1,)).place("save", now=0.0)

    with pytest.raises(BarrierError, match="worker 2 cannot enter the barrier"):
        state.block(2, 1)


def test_a_worker_that_left_is_no_longer_waited_for() -> None:
    state = running(3).place("save", now=0.0).block(1, 1)

    state = state.leave(2)

    assert state.decide(now=0.0).readiness is Readiness.ALL_BLOCKED


def test_a_worker_leaving_while_blocked_is_unblocked() -> None:
    state = running(3).place("save", now=0.0).block(1, 1)

    state = state.leave(1)

    assert state.blocked_indices() == ()
    assert state.unblocked_indices() == (2,)


def test_a_worker_joining_during_an_epoch_is_waited_for() -> None:
    state = BarrierState.new(3, running=(1,)).place("save", now=0.0).block(1, 1)

    state = state.join(2)

    assert state.decide(now=0.0).unblocked == (2,)
    assert state.should_block(2)


def test_blocking_twice_is_the_same_as_once() -> None:
    state = running(3).place("save", now=0.0)

    once = state.block(1, 1)

    assert once.block(1, 1) == once


def test_blocking_on_an_already_released_epoch_changes_nothing() -> None:
    state = running(2).place("save", now=0.0).remove()

    assert state.block(1, 1) == state
    assert state.status(1) is EpochStatus.RELEASED


def test_blocking_on_an_epoch_never_opened_is_an_error() -> None:
    state = running(2).place("save", now=0.0)

    with pytest.raises(BarrierError, match="cannot block on epoch 2"):
        state.block(1, 2)


def test_removing_without_a_barrier_is_an_error() -> None:
    with pytest.raises(BarrierError, match="none is placed"):
        running(2).remove()


def test_deciding_without_a_barrier_is_an_error() -> None:
    with pytest.raises(BarrierError, match="none is placed"):
        running(2).decide(now=0.0)


def test_the_status_of_an_epoch_never_opened_is_an_error() -> None:
    with pytest.raises(BarrierError, match="epoch 1 was never opened"):
        running(2).status(1)


def test_a_capacity_below_one_is_an_error() -> None:
    with pytest.raises(BarrierError, match="capacity must be >= 1"):
        BarrierState.new(0)


def test_a_negative_pending_limit_is_an_error() -> None:
    with pytest.raises(BarrierError, match="max_pending_secs must be >= 0"):
        running(2).place("save", now=0.0, max_pending_secs=-1.0)


def test_an_illegal_state_cannot_be_constructed() -> None:
    with pytest.raises(BarrierError, match="invalid barrier state"):
        BarrierState(capacity=3, running=frozenset({1}), blocked=frozenset({1}))


def test_removing_clears_the_action_and_every_block() -> None:
    state = running(3).place("save", now=0.0).block(1, 1).block(2, 1)

    state = state.remove()

    assert state.action is None
    assert state.is_none_blocked()
    assert not state.is_all_blocked()


class ReferenceBarrier:
    """A deliberately naive model of the rules, to compare the real one against."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.epoch = 0
        self.placed = False
        self.running: set[int] = set()
        self.blocked: set[int] = set()

    def legal(self, event: tuple[str, int]) -> bool:
        kind, arg = event
        in_range = 0 < arg < self.capacity
        if kind == "place":
            return not self.placed
        if kind == "remove":
            return self.placed
        if kind in ("join", "leave"):
            return in_range
        if kind == "block":
            return in_range and arg in self.running and self.epoch >= 1
        return True

    def apply(self, event: tuple[str, int]) -> None:
        kind, arg = event
        if kind == "place":
            self.epoch += 1
            self.placed = True
        elif kind == "remove":
            self.placed = False
            self.blocked.clear()
        elif kind == "join":
            self.running.add(arg)
        elif kind == "leave":
            self.running.discard(arg)
            self.blocked.discard(arg)
        elif kind == "block" and self.placed:
            self.blocked.add(arg)


def apply_event(
    state: BarrierState, event: tuple[str, int], now: float
) -> BarrierState:
    kind, arg = event
    if kind == "place":
        return state.place("save", now=now, max_pending_secs=5.0)
    if kind == "remove":
        return state.remove()
    if kind == "join":
        return state.join(arg)
    if kind == "leave":
        return state.leave(arg)
    return state.block(arg, state.epoch)


events = st.lists(
    st.tuples(
        st.sampled_from(["place", "remove", "join", "leave", "block"]),
        st.integers(min_value=-1, max_value=5),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(min_value=1, max_value=5), sequence=events)
def test_random_event_sequences_never_reach_an_illegal_state(
    capacity: int, sequence: list[tuple[str, int]]
) -> None:
    state = BarrierState.new(capacity)
    model = ReferenceBarrier(capacity)
    epochs_seen = [0]

    for now, event in enumerate(sequence):
        if model.legal(event):
            state = apply_event(state, event, float(now))
            model.apply(event)
        else:
            with pytest.raises(BarrierError):
                apply_event(state, event, float(now))

        assert state.violations() == []
        assert (state.epoch, state.placed) == (model.epoch, model.placed)
        assert state.running == model.running
        assert state.blocked == model.blocked
        assert state.epoch >= epochs_seen[-1]
        epochs_seen.append(state.epoch)
        for old in range(1, state.epoch):
            assert state.status(old) is EpochStatus.RELEASED
        if state.placed:
            assert state.status(state.epoch) is EpochStatus.WAITING
            decision = state.decide(now=float(now))
            assert decision.proceed == (
                not model.running - model.blocked
                or decision.readiness is Readiness.PENDING_LIMIT_PASSED
            )
