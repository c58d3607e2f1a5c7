"""When checkpoints are saved (decision 3, BEHAVIOUR.md §4.2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.errors import ConfigError
from monolith.domain.save_cadence import should_save, validate_cadence

pytestmark = pytest.mark.unit


def due(
    step: int,
    *,
    last_step: int = 0,
    last_time: float = 0.0,
    now: float = 0.0,
    steps: int | None = None,
    secs: float | None = None,
    final: bool = False,
) -> bool:
    return should_save(
        step=step,
        last_saved_step=last_step,
        last_saved_time=last_time,
        now=now,
        every_steps=steps,
        every_secs=secs,
        final=final,
    )


def test_a_save_is_due_every_n_steps_since_the_last_save() -> None:
    assert not due(99, steps=100)
    assert due(100, steps=100)
    assert not due(150, last_step=100, steps=100)
    assert due(200, last_step=100, steps=100)


def test_a_resumed_run_counts_steps_from_the_restored_step() -> None:
    assert not due(130, last_step=37, steps=100)
    assert due(137, last_step=37, steps=100)


def test_a_save_is_due_every_n_seconds_since_the_last_save() -> None:
    assert not due(5, last_time=1000.0, now=1059.9, secs=60.0)
    assert due(5, last_time=1000.0, now=1060.0, secs=60.0)


def test_step_zero_is_never_saved_even_at_the_end() -> None:
    assert not due(0, steps=1, final=True)
    assert not due(0, secs=0.5, now=100.0)


def test_the_end_of_training_saves_the_last_step() -> None:
    """BEHAVIOUR.md §4.5 ``SaverHookTest.test_basic``: one step, save_steps=100."""
    assert not due(1, steps=100)
    assert due(1, steps=100, final=True)


def test_the_end_does_not_save_a_step_already_saved() -> None:
    assert not due(200, last_step=200, steps=100, final=True)


def test_without_a_cadence_only_the_end_saves() -> None:
    assert not due(10**9, now=10**9)
    assert due(10**9, final=True)


def test_setting_both_steps_and_secs_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="set at most one") as info:
        due(10, steps=10, secs=5.0)

    assert "save_checkpoints_steps" in str(info.value)
    assert "save_checkpoints_secs" in str(info.value)


@pytest.mark.parametrize(
    ("steps", "secs", "name"),
    [(0, None, "save_checkpoints_steps"), (None, -1.0, "save_checkpoints_secs")],
    ids=["zero-steps", "negative-secs"],
)
def test_a_non_positive_interval_is_a_config_error_naming_the_field(
    steps: int | None, secs: float | None, name: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        validate_cadence(steps, secs)


@settings(max_examples=100, deadline=None)
@given(
    every=st.integers(min_value=1, max_value=20),
    total=st.integers(min_value=0, max_value=200),
)
def test_a_step_cadence_run_saves_at_each_multiple_and_the_last_step(
    every: int, total: int
) -> None:
    saved = []
    last = 0
    for step in range(total + 1):
        if due(step, last_step=last, steps=every, final=step == total):
            saved.append(step)
            last = step

    expected = list(range(every, total + 1, every))
    if total > 0 and total not in expected:
        expected.append(total)
    assert saved == expected
