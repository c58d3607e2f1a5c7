"""Training hooks: the NaN guard, checkpoint cadence, logging and summaries.

A hook sees the run begin, each step's result before any parameter changes
(:meth:`Hook.after_compute`, where a guard may raise), each finished step
(:meth:`Hook.after_step`) and the end. Hooks run on the thread of the worker
that produced the step; the training loop calls them under its own lock, so a
hook needs no locking of its own.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain.errors import NonFiniteLossError
from monolith.domain.metrics import StreamingAuc
from monolith.domain.save_cadence import should_save, validate_cadence
from monolith.ports.clock import Clock
from monolith.ports.compute import StepResult

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]


@attrs.frozen
class StepEvent:
    """A finished training step.

    Attributes:
        step: The global step this step completed (1 for the first).
        worker: Index of the worker that ran it.
        examples: Examples in the batch.
        loss: The batch loss.
        labels: ``[B]`` labels.
        predictions: ``[B]`` scores the tower produced before the update.
    """

    step: int
    worker: int
    examples: int
    loss: float
    labels: Float32Array
    predictions: Float32Array


@attrs.frozen
class RunInfo:
    """What hooks know about a run when it begins."""

    start_step: int
    max_steps: int | None
    classification: bool = True


class Hook:
    """A training hook; every method does nothing unless overridden.

    A hook with ``chief_only = True`` sees only the chief's steps, on the
    chief's thread, with ``event.step`` the global step at that moment (the
    checkpoint hook, which must place the save barrier from the chief).
    """

    chief_only: ClassVar[bool] = False

    def begin(self, run: RunInfo) -> None:
        """Called once before the first step."""

    def after_compute(self, step: int, result: StepResult) -> None:
        """Called with a step's gradients before any parameter changes."""

    def after_step(self, event: StepEvent) -> None:
        """Called after a step's updates are applied."""

    def end(self, last_step: int, *, failed: bool) -> None:
        """Called once when the run stops (``failed`` if it raised)."""


class NonFiniteLossGuard(Hook):
    """Stops training with :class:`NonFiniteLossError` on a NaN or Inf loss.

    It raises in :meth:`after_compute`, so the bad step changes nothing.
    """

    def after_compute(self, step: int, result: StepResult) -> None:
        if not math.isfinite(result.loss):
            raise NonFiniteLossError(
                f"loss is {result.loss} at step {step}: training stopped before "
                "applying that step; lower the learning rate or check the input "
                "data for extreme values"
            )


class CheckpointHook(Hook):
    """Saves on a cadence (decision 3) and once at the end of a clean run.

    Args:
        save: Writes a checkpoint when asked for ``step`` and returns the step
            it actually saved (the cluster places the save barrier first, and
            steps other workers finish meanwhile are included).
        clock: Time for ``every_secs``.
        every_steps: ``save_checkpoints_steps``, or None.
        every_secs: ``save_checkpoints_secs``, or None (both set is an error).
    """

    chief_only = True

    def __init__(
        self,
        save: Callable[[int], int],
        clock: Clock,
        *,
        every_steps: int | None = None,
        every_secs: float | None = None,
    ) -> None:
        validate_cadence(every_steps, every_secs)
        self._save = save
        self._clock = clock
        self.every_steps = every_steps
        self.every_secs = every_secs
        self.last_saved_step = 0
        self._last_saved_time = 0.0
        self.saved_steps: list[int] = []

    def begin(self, run: RunInfo) -> None:
        self.last_saved_step = run.start_step
        self._last_saved_time = self._clock.monotonic()

    def after_step(self, event: StepEvent) -> None:
        self._maybe_save(event.step, final=False)

    def end(self, last_step: int, *, failed: bool) -> None:
        if not failed:
            self._maybe_save(last_step, final=True)

    def _maybe_save(self, step: int, *, final: bool) -> None:
        now = self._clock.monotonic()
        due = should_save(
            step=step,
            last_saved_step=self.last_saved_step,
            last_saved_time=self._last_saved_time,
            now=now,
            every_steps=self.every_steps,
            every_secs=self.every_secs,
            final=final,
        )
        if not due:
            return
        saved = self._save(step)
        self.saved_steps.append(saved)
        self.last_saved_step = saved
        self._last_saved_time = self._clock.monotonic()


class ScalarWriter(Protocol):
    """Where :class:`SummaryHook` sends scalars (e.g. TensorBoard event files)."""

    def add_scalar(self, tag: str, value: float, step: int) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class _Window:
    """Loss, examples and AUC accumulated since the last report."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.auc = StreamingAuc(num_bins=1000)
        self.reset()

    def reset(self) -> None:
        self.started = self._clock.monotonic()
        self.steps = 0
        self.examples = 0
        self.loss_sum = 0.0
        self.auc.reset()

    def add(self, event: StepEvent, classification: bool) -> None:
        self.steps += 1
        self.examples += event.examples
        self.loss_sum += event.loss
        if classification:
            self.auc.update(event.labels, event.predictions)

    def summary(self) -> dict[str, float]:
        elapsed = max(self._clock.monotonic() - self.started, 1e-9)
        return {
            "loss": self.loss_sum / max(self.steps, 1),
            "examples_per_sec": self.examples / elapsed,
            "auc": self.auc.result(),
        }


class LoggingHook(Hook):
    """Plain log lines every ``every_steps`` steps, plus a progress bar on a terminal.

    Each line reads ``train progress step=.. examples_per_sec=.. loss=..
    auc=..``; loss and AUC are over the steps since the previous line.

    Args:
        clock: Time for the examples/s figure.
        every_steps: Steps between log lines.
        progress_bar: Show a tqdm bar; None shows one when stderr is a terminal.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        every_steps: int = 100,
        progress_bar: bool | None = None,
    ) -> None:
        self._clock = clock
        self.every_steps = max(1, every_steps)
        self._progress_bar = progress_bar
        self._window = _Window(clock)
        self._bar: Any = None
        self._classification = True
        self.last: dict[str, float] = {}

    def begin(self, run: RunInfo) -> None:
        self._classification = run.classification
        self._window.reset()
        show = self._progress_bar
        if show is None:
            show = sys.stderr.isatty()
        if show:
            from tqdm import tqdm

            total = None if run.max_steps is None else run.max_steps - run.start_step
            self._bar = tqdm(total=total, unit="step", dynamic_ncols=True)
        logger.info(
            "training started start_step=%d max_steps=%s",
            run.start_step,
            run.max_steps,
        )

    def after_step(self, event: StepEvent) -> None:
        self._window.add(event, self._classification)
        if self._bar is not None:
            self._bar.update(1)
        if event.step % self.every_steps == 0:
            self._report(event.step)

    def _report(self, step: int) -> None:
        if self._window.steps == 0:
            return
        figures = self._window.summary()
        self.last = {"step": float(step), **figures}
        logger.info(
            "train progress step=%d examples_per_sec=%.0f loss=%.5f auc=%.4f",
            step,
            figures["examples_per_sec"],
            figures["loss"],
            figures["auc"],
        )
        if self._bar is not None:
            self._bar.set_postfix(
                loss=f"{figures['loss']:.4f}",
                auc=f"{figures['auc']:.4f}",
                ex_s=f"{figures['examples_per_sec']:.0f}",
            )
        self._window.reset()

    def end(self, last_step: int, *, failed: bool) -> None:
        if last_step % self.every_steps != 0:
            self._report(last_step)
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        logger.info("training stopped step=%d failed=%s", last_step, failed)


class SummaryHook(Hook):
    """Writes loss, examples/s and running AUC as scalars every ``every_steps``."""

    def __init__(self, writer: ScalarWriter, clock: Clock, *, every_steps: int = 100):
        self._writer = writer
        self.every_steps = max(1, every_steps)
        self._window = _Window(clock)
        self._classification = True

    def begin(self, run: RunInfo) -> None:
        self._classification = run.classification
        self._window.reset()

    def after_step(self, event: StepEvent) -> None:
        self._window.add(event, self._classification)
        if event.step % self.every_steps == 0:
            self._write(event.step)

    def _write(self, step: int) -> None:
        if self._window.steps == 0:
            return
        for tag, value in self._window.summary().items():
            if math.isfinite(value):
                self._writer.add_scalar(f"train/{tag}", value, step)
        self._window.reset()

    def end(self, last_step: int, *, failed: bool) -> None:
        self._write(last_step)
        self._writer.flush()
        self._writer.close()
