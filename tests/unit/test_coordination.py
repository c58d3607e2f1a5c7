"""The chief's coordination state: steps, barrier, liveness, restore and end."""

from __future__ import annotations

import pytest

from monolith.domain.coordination import Coordination
from monolith.domain.errors import BarrierAlreadyPlacedError, BarrierError

pytestmark = pytest.mark.unit


def test_claims_grant_consecutive_global_steps_across_workers() -> None:
    state = Coordination.new(3).join(1, 0.0).join(2, 0.0).mark_restored(0)

    state, first = state.claim(1, 1.0)
    state, second = state.claim(0, 1.0)
    state, third = state.claim(2, 1.0)

    assert (first.claimed_step, second.claimed_step, third.claimed_step) == (1, 2, 3)
    assert third.global_step == 3


def test_no_step_is_granted_past_max_steps() -> None:
    state = Coordination.new(2, start_step=4, max_steps=5).join(1, 0.0).mark_restored(0)

    state, granted = state.claim(1, 0.0)
    state, refused = state.claim(1, 0.0)

    assert granted.claimed_step == 5
    assert refused.claimed_step == 0
    assert refused.global_step == 5


def test_no_step_is_granted_while_a_barrier_is_placed() -> None:
    state = Coordination.new(2).join(1, 0.0).place("save", 0.0, 30.0)

    state, view = state.claim(1, 0.5)

    assert view.claimed_step == 0
    assert view.placed and view.action == "save" and view.epoch == 1


def test_the_chief_proceeds_once_every_running_worker_blocked() -> None:
    state = Coordination.new(3).join(1, 0.0).join(2, 0.0).place("save", 0.0, 30.0)

    state, _ = state.block(1, 1, 0.1)
    waiting = state.decide(0.2)
    state, _ = state.block(2, 1, 0.3)
    ready = state.decide(0.4)

    assert not waiting.proceed and waiting.unblocked == (2,)
    assert ready.proceed and ready.unblocked == ()


def test_a_released_epoch_reads_released_and_steps_resume() -> None:
    state = Coordination.new(2).join(1, 0.0).mark_restored(0)
    state = state.place("save", 0.0, 30.0)
    state, blocked = state.block(1, 1, 0.1)

    state = state.remove()
    state, polled = state.status(1, 1, 0.2)
    state, claimed = state.claim(1, 0.3)

    assert not blocked.released
    assert polled.released and not polled.placed
    assert claimed.claimed_step == 1


def test_a_silent_worker_expires_and_stops_holding_the_barrier() -> None:
    state = Coordination.new(3).join(1, 0.0).join(2, 0.0).place("save", 0.0, None)
    state, _ = state.block(1, 1, 5.0)

    state, gone = state.expire(now=11.0, limit=10.0)

    assert gone == (2,)
    assert state.running() == (1,)
    assert state.decide(11.0).proceed


def test_a_worker_that_calls_after_expiring_rejoins() -> None:
    state = Coordination.new(2).join(1, 0.0).mark_restored(0)
    state, _ = state.expire(now=100.0, limit=10.0)

    state, view = state.claim(1, 100.5)

    assert state.running() == (1,)
    assert view.claimed_step == 1


def test_marking_the_restore_moves_the_global_step_to_the_restored_step() -> None:
    state = Coordination.new(2, max_steps=50)

    state = state.mark_restored(40)
    state, view = state.claim(0, 0.0)

    assert view.restored and view.restored_step == 40
    assert view.claimed_step == 41


def test_no_step_is_granted_before_the_chief_restored() -> None:
    state = Coordination.new(2).join(1, 0.0)

    state, early = state.claim(1, 0.1)
    state, late = state.mark_restored(0).claim(1, 0.2)

    assert early.claimed_step == 0 and not early.restored
    assert late.claimed_step == 1 and late.restored


def test_after_finish_no_step_is_granted_and_late_workers_do_not_join() -> None:
    state = Coordination.new(3).join(1, 0.0).finish()

    state, view = state.claim(1, 1.0)
    state, late = state.claim(2, 1.0)

    assert view.finished and view.claimed_step == 0
    assert late.finished and state.running() == (1,)


def test_placing_twice_and_bad_indices_are_refused() -> None:
    state = Coordination.new(2).join(1, 0.0).place("save", 0.0, 1.0)

    with pytest.raises(BarrierAlreadyPlacedError):
        state.place("save", 0.0, 1.0)
    with pytest.raises(BarrierError, match=r"0 < index < 2"):
        state.claim(2, 0.0)
    with pytest.raises(BarrierError, match="chief"):
        state.status(0, 0, 0.0)


def test_a_rewind_restarts_steps_at_the_restored_step_in_a_new_generation() -> None:
    state = Coordination.new(2).join(1, 0.0).mark_restored(0)
    for _ in range(7):
        state, _ = state.claim(0, 0.0)

    state = state.rewind(5)
    state, view = state.claim(1, 0.1)

    assert view.generation == 1
    assert view.claimed_step == 6 and view.restored_step == 5
