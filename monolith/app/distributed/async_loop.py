"""Async PS training loops: the chief's and every other worker's.

Dense parameters live on the parameter servers (each step pulls them and
pushes the dense gradients), as in the original's async mode. Each worker
claims every global step from the chief's coordinator before running it, so
``max_steps`` counts the steps of all workers together; while the chief holds
the save barrier no step is granted and the workers block (decision 9).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import attrs

from monolith.app.training.hooks import Hook, RunInfo, StepEvent
from monolith.app.training.step import WorkerStep
from monolith.domain.batch import Batch
from monolith.domain.coordination import CoordView
from monolith.domain.errors import (
    BarrierError,
    CoordinatorUnavailableError,
    RestoreSyncError,
    ShardUnavailableError,
)
from monolith.ports.clock import Clock
from monolith.ports.compute import StepResult
from monolith.ports.coordination import Coordinator

logger = logging.getLogger(__name__)

POLL_SECS = 0.02


class ChiefCoordinator(Protocol):
    """What the chief's loop needs of the coordinator it hosts."""

    def claim(self, index: int) -> CoordView: ...

    def run_barrier(self, action: str, fn: Callable[[], int]) -> int: ...

    def wait_workers_gone(self, timeout: float) -> tuple[int, ...]: ...

    def finish(self) -> None: ...

    @property
    def global_step(self) -> int: ...


@attrs.frozen
class LoopResult:
    """What one worker's loop did.

    Attributes:
        start_step: The global step training started from.
        last_step: The global step when this worker stopped.
        steps: Steps this worker ran.
        examples: Examples this worker trained on.
    """

    start_step: int
    last_step: int
    steps: int
    examples: int


def run_step(
    runner: WorkerStep,
    hooks: Sequence[Hook],
    batch: Batch,
    step: int,
    worker: int,
) -> StepEvent:
    def guard(at: int, result: StepResult) -> None:
        for hook in hooks:
            hook.after_compute(at, result)

    result = runner.run(batch, step, guard=guard)
    return StepEvent(
        step=step,
        worker=worker,
        examples=batch.size,
        loss=result.loss,
        labels=batch.label,
        predictions=result.predictions,
    )


def run_async_chief(
    runner: WorkerStep,
    coordinator: ChiefCoordinator,
    batches: Iterator[Batch],
    hooks: Sequence[Hook],
    *,
    start_step: int,
    max_steps: int | None,
    workers_timeout: float,
    classification: bool = True,
    recover: Callable[[], int] | None = None,
    max_recoveries: int = 0,
) -> LoopResult:
    """Train as worker 0, then wait for the other workers and end the run.

    ``hooks`` see the chief's steps with the global step at that moment; the
    checkpoint hook among them places the save barrier. After the chief's
    data or ``max_steps`` ends, it waits up to ``workers_timeout`` seconds for
    the others to stop, marks the run finished and calls the hooks' ``end``
    (the final save).

    When a PS shard becomes unavailable and fewer than ``max_recoveries``
    recoveries happened, the chief runs ``recover`` (reconnect to the PS,
    restore the newest checkpoint, rewind the global step) inside a
    ``recover`` barrier, and training continues; otherwise the error stops
    the run.
    """
    run = RunInfo(start_step, max_steps, classification)
    for hook in hooks:
        hook.begin(run)
    steps = examples = recoveries = 0
    failed = True
    try:
        for batch in batches:
            view = coordinator.claim(0)
            if not view.claimed_step:
                break
            try:
                event = run_step(runner, hooks, batch, view.claimed_step, 0)
                steps += 1
                examples += batch.size
                event = attrs.evolve(event, step=coordinator.global_step)
                for hook in hooks:
                    hook.after_step(event)
            except ShardUnavailableError as exc:
                if recover is None or recoveries >= max_recoveries:
                    raise
                recoveries += 1
                logger.warning(
                    "ps lost, recovering attempt=%d of=%d error=%s",
                    recoveries,
                    max_recoveries,
                    exc,
                )
                restored = coordinator.run_barrier("recover", recover)
                logger.info("ps recovered step=%d", restored)
        still = coordinator.wait_workers_gone(workers_timeout)
        if still:
            logger.warning(
                "workers still running at the end indices=%s waited_secs=%.1f",
                ",".join(map(str, still)),
                workers_timeout,
            )
        coordinator.finish()
        failed = False
    finally:
        if failed:
            coordinator.finish()
        last = coordinator.global_step
        for hook in hooks:
            hook.end(last, failed=failed)
    logger.info(
        "chief finished steps=%d examples=%d global_step=%d", steps, examples, last
    )
    return LoopResult(start_step, last, steps, examples)


def wait_for_restore(
    client: Coordinator, index: int, *, timeout: float, clock: Clock
) -> CoordView:
    """Poll the chief until it marked its restore (decision 5).

    Raises:
        RestoreSyncError: the chief did not mark it within ``timeout`` seconds.
    """
    end = clock.monotonic() + timeout
    while True:
        view = client.status(index)
        if view.restored or view.finished:
            return view
        if clock.monotonic() >= end:
            raise RestoreSyncError(
                f"worker {index} waited {timeout:.1f}s for the chief to restore "
                "and it did not; check worker 0's log (chief_timeout_secs sets "
                "the wait)"
            )
        clock.sleep(POLL_SECS * 5)


def _pass_barrier(
    client: Coordinator, index: int, view: CoordView, *, timeout: float, clock: Clock
) -> bool:
    """Block on the placed epoch until released; False if training finished."""
    epoch = view.epoch
    logger.debug("worker blocked index=%d epoch=%d", index, epoch)
    state = client.block(index, epoch)
    end = clock.monotonic() + timeout
    while not state.released:
        if state.finished:
            return False
        if clock.monotonic() >= end:
            raise CoordinatorUnavailableError(
                f"worker {index} was blocked on barrier epoch {epoch} for "
                f"{timeout:.1f}s and the chief never released it"
            )
        clock.sleep(POLL_SECS)
        state = client.status(index, epoch)
    return True


def _await_recovery(
    client: Coordinator,
    index: int,
    generation: int,
    error: ShardUnavailableError,
    *,
    timeout: float,
    clock: Clock,
) -> int | None:
    """Wait until the chief's generation passes ``generation``; None if finished.

    Raises:
        ShardUnavailableError: ``error``, when no recovery came within ``timeout``.
    """
    end = clock.monotonic() + timeout
    while clock.monotonic() < end:
        view = client.status(index)
        if view.finished:
            return None
        if view.generation > generation:
            return view.generation
        if view.placed:
            if not _pass_barrier(client, index, view, timeout=timeout, clock=clock):
                return None
        else:
            clock.sleep(POLL_SECS * 5)
    raise error


def run_async_worker(
    runner: WorkerStep,
    client: Coordinator,
    index: int,
    batches: Iterator[Batch],
    hooks: Sequence[Hook],
    *,
    clock: Clock,
    restore_timeout: float,
    barrier_timeout: float,
    classification: bool = True,
    reconnect: Callable[[], None] | None = None,
    rejoin: Callable[[], Coordinator] | None = None,
    max_recoveries: int = 0,
) -> LoopResult:
    """Train as worker ``index`` (> 0) until the data, the steps or the run ends.

    The worker joins the chief's coordinator, waits for the chief's restore,
    then claims each global step; it blocks at every save barrier and leaves
    the coordinator when it stops (also on error, when the chief answers).

    When a PS shard becomes unavailable and fewer than ``max_recoveries``
    recoveries happened, the worker waits for the chief to recover the PS
    (the coordinator's generation grows), calls ``reconnect`` and continues.
    When the chief stops answering, it likewise calls ``rejoin`` for a
    client of the restarted chief, waits for that chief's restore (which
    rolls the PS back to the newest checkpoint) and continues.
    """
    client.join(index)
    try:
        view = wait_for_restore(client, index, timeout=restore_timeout, clock=clock)
        start_step = view.global_step
        generation = view.generation
        recoveries = 0
        run = RunInfo(start_step, None, classification)
        for hook in hooks:
            hook.begin(run)
        steps = examples = 0
        last = start_step
        failed = True
        try:
            for batch in batches:
                try:
                    step = 0
                    while not step:
                        view = client.claim(index)
                        last = view.global_step
                        step = view.claimed_step
                        if step or view.finished:
                            break
                        if not view.placed:
                            break  # max_steps reached
                        if not _pass_barrier(
                            client, index, view, timeout=barrier_timeout, clock=clock
                        ):
                            break
                    if not step:
                        break
                    if view.generation > generation and reconnect is not None:
                        reconnect()
                        generation = view.generation
                    try:
                        event = run_step(runner, hooks, batch, step, index)
                    except ShardUnavailableError as exc:
                        if reconnect is None or recoveries >= max_recoveries:
                            raise
                        recoveries += 1
                        logger.warning(
                            "ps lost, waiting for the chief to recover "
                            "index=%d error=%s",
                            index,
                            exc,
                        )
                        recovered = _await_recovery(
                            client, index, generation, exc,
                            timeout=barrier_timeout, clock=clock,
                        )  # fmt: skip
                        if recovered is None:
                            break
                        reconnect()
                        generation = recovered
                        continue
                    steps += 1
                    examples += batch.size
                    for hook in hooks:
                        hook.after_step(event)
                except CoordinatorUnavailableError:
                    if rejoin is None or recoveries >= max_recoveries:
                        raise
                    recoveries += 1
                    logger.warning(
                        "chief lost, waiting for a new chief index=%d", index
                    )
                    client = rejoin()
                    view = wait_for_restore(
                        client, index, timeout=restore_timeout, clock=clock
                    )
                    generation = view.generation
                    last = view.global_step
                    if reconnect is not None:
                        reconnect()
            failed = False
        finally:
            for hook in hooks:
                hook.end(last, failed=failed)
    finally:
        try:
            client.leave(index)
        except BarrierError as exc:  # CoordinatorUnavailableError included
            # The chief is gone (or its client was closed by a failed rejoin):
            # leaving is moot, and raising here would hide why the loop ended.
            logger.warning("worker could not leave index=%d reason=%s", index, exc)
    logger.info(
        "worker finished index=%d steps=%d examples=%d global_step=%d",
        index,
        steps,
        examples,
        last,
    )
    return LoopResult(start_step, last, steps, examples)
