"""Training hooks: checkpoint cadence, the NaN guard, logging and summaries."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from monolith.adapters.clock.manual import ManualClock
from monolith.app.training.hooks import (
    CheckpointHook,
    LoggingHook,
    NonFiniteLossGuard,
    RunInfo,
    StepEvent,
    SummaryHook,
)
from monolith.domain.errors import ConfigError, NonFiniteLossError
from monolith.ports.compute import StepResult

pytestmark = pytest.mark.unit


def _event(step: int, loss: float = 0.5) -> StepEvent:
    return StepEvent(
        step=step,
        worker=0,
        examples=4,
        loss=loss,
        labels=np.array([0, 1, 0, 1], np.float32),
        predictions=np.array([0.1, 0.9, 0.2, 0.8], np.float32),
    )


def _result(loss: float) -> StepResult:
    return StepResult(loss, np.zeros(1, np.float32), {}, {})


def _run_checkpoint_hook(hook: CheckpointHook, steps: range, start: int = 0) -> None:
    hook.begin(RunInfo(start_step=start, max_steps=None))
    for step in steps:
        hook.after_step(_event(step))
    hook.end(steps[-1], failed=False)


def test_checkpoint_hook_saves_every_k_steps_and_once_at_the_end():
    saved: list[int] = []
    hook = CheckpointHook(lambda s: saved.append(s) or s, ManualClock(), every_steps=3)

    _run_checkpoint_hook(hook, range(1, 11))

    assert saved == [3, 6, 9, 10]


def test_checkpoint_hook_never_saves_twice_for_the_last_step():
    saved: list[int] = []
    hook = CheckpointHook(lambda s: saved.append(s) or s, ManualClock(), every_steps=5)

    _run_checkpoint_hook(hook, range(1, 11))

    assert saved == [5, 10]


def test_checkpoint_hook_counts_from_the_restored_step():
    saved: list[int] = []
    hook = CheckpointHook(lambda s: saved.append(s) or s, ManualClock(), every_steps=4)

    _run_checkpoint_hook(hook, range(8, 14), start=7)

    assert saved == [11, 13]


def test_checkpoint_hook_without_cadence_saves_only_at_the_end():
    saved: list[int] = []
    hook = CheckpointHook(lambda s: saved.append(s) or s, ManualClock())

    _run_checkpoint_hook(hook, range(1, 6))

    assert saved == [5]


def test_checkpoint_hook_does_not_save_after_a_failed_run():
    saved: list[int] = []
    hook = CheckpointHook(lambda s: saved.append(s) or s, ManualClock())
    hook.begin(RunInfo(start_step=0, max_steps=None))
    hook.after_step(_event(1))

    hook.end(1, failed=True)

    assert saved == []


def test_checkpoint_hook_saves_on_a_time_cadence():
    clock = ManualClock()
    saved: list[int] = []
    hook = CheckpointHook(lambda s: saved.append(s) or s, clock, every_secs=10.0)
    hook.begin(RunInfo(start_step=0, max_steps=None))

    for step in range(1, 8):
        clock.advance(4.0)
        hook.after_step(_event(step))

    assert saved == [3, 6]


def test_checkpoint_hook_refuses_both_step_and_time_cadence():
    with pytest.raises(ConfigError, match="both set"):
        CheckpointHook(lambda s: s, ManualClock(), every_steps=1, every_secs=1.0)


def test_nan_guard_stops_with_an_error_naming_the_step():
    guard = NonFiniteLossGuard()

    guard.after_compute(3, _result(0.7))
    with pytest.raises(NonFiniteLossError, match="at step 17"):
        guard.after_compute(17, _result(math.nan))
    with pytest.raises(NonFiniteLossError, match="inf at step 18"):
        guard.after_compute(18, _result(math.inf))


def test_logging_hook_logs_step_throughput_loss_and_running_auc(caplog):
    clock = ManualClock()
    hook = LoggingHook(clock, every_steps=2, progress_bar=False)

    with caplog.at_level(logging.INFO, logger="monolith"):
        hook.begin(RunInfo(start_step=0, max_steps=4))
        for step in range(1, 5):
            clock.advance(0.5)
            hook.after_step(_event(step, loss=0.25))
        hook.end(4, failed=False)

    lines = [
        r.getMessage() for r in caplog.records if "train progress" in r.getMessage()
    ]
    assert lines == [
        "train progress step=2 examples_per_sec=8 loss=0.25000 auc=1.0000",
        "train progress step=4 examples_per_sec=8 loss=0.25000 auc=1.0000",
    ]


class _RecordingWriter:
    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []
        self.closed = False

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_summary_hook_writes_loss_throughput_and_auc_then_closes_the_writer():
    writer = _RecordingWriter()
    hook = SummaryHook(writer, ManualClock(), every_steps=2)
    hook.begin(RunInfo(start_step=0, max_steps=None))

    for step in range(1, 4):
        hook.after_step(_event(step))
    hook.end(3, failed=False)

    tags = {(tag, step) for tag, _, step in writer.scalars}
    assert ("train/loss", 2) in tags
    assert ("train/auc", 3) in tags
    assert ("train/examples_per_sec", 2) in tags
    assert writer.closed
