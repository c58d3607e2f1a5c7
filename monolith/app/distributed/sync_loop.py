"""Sync-dense training: sparse tables on the PS, dense gradients all-reduced.

Every rank runs the same number of steps in lockstep. Before each step the
ranks all-reduce a small control vector: whether any rank ran out of data
(then all stop together) and whether the chief asked for a save after the
previous step (then the chief saves while the others wait at a barrier, so
the checkpoint sees every rank's sparse updates and none of the next step's).
Dense gradients are averaged by :class:`AllReducedBackend`, so every rank
applies the same dense update and the dense parameters stay identical.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from monolith.app.distributed.async_loop import LoopResult, run_step
from monolith.app.training.hooks import Hook, RunInfo
from monolith.app.training.step import WorkerStep
from monolith.domain.batch import Batch
from monolith.domain.model_spec import ModelSpec
from monolith.domain.save_cadence import should_save
from monolith.ports.clock import Clock
from monolith.ports.collective import AllReduce
from monolith.ports.compute import (
    ComputeBackend,
    Float32Array,
    StepResult,
    TowerInputs,
)

logger = logging.getLogger(__name__)


class AllReducedBackend:
    """A compute backend whose dense updates use gradients averaged over ranks.

    Args:
        inner: The built backend of this rank.
        allreduce: The group of all sync ranks.
    """

    def __init__(self, inner: ComputeBackend, allreduce: AllReduce) -> None:
        self._inner = inner
        self._allreduce = allreduce
        self.name = inner.name

    def build(self, spec: ModelSpec) -> None:
        self._inner.build(spec)

    def predict(self, inputs: TowerInputs) -> Float32Array:
        return self._inner.predict(inputs)

    def compute_gradients(
        self, inputs: TowerInputs, labels: Float32Array
    ) -> StepResult:
        return self._inner.compute_gradients(inputs, labels)

    def apply_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        self._inner.apply_dense_gradients(self._allreduce.mean(grads))

    def parameters(self) -> dict[str, Float32Array]:
        return self._inner.parameters()

    def load_parameters(self, params: Mapping[str, Float32Array]) -> None:
        self._inner.load_parameters(params)

    def state(self) -> dict[str, Float32Array]:
        return self._inner.state()

    def load_state(self, state: Mapping[str, Float32Array]) -> None:
        self._inner.load_state(state)


def agree_on_start(allreduce: AllReduce, restored_step: int) -> int:
    """Every rank learns the chief's restored step (a barrier, too)."""
    mine = restored_step if allreduce.rank == 0 else 0
    return int(allreduce.sum(np.array([float(mine)]))[0])


def run_sync(
    runner: WorkerStep,
    allreduce: AllReduce,
    batches: Iterator[Batch],
    hooks: Sequence[Hook],
    save: Callable[[int], int],
    *,
    clock: Clock,
    start_step: int,
    max_steps: int | None,
    every_steps: int | None,
    every_secs: float | None,
    classification: bool = True,
) -> LoopResult:
    """Run sync-dense steps on this rank until any rank's data or ``max_steps`` ends.

    ``save(step)`` runs on rank 0 only, at a point where every rank finished
    step ``step``; the final save happens once every rank stopped.
    """
    is_chief = allreduce.rank == 0
    run = RunInfo(start_step, max_steps, classification)
    for hook in hooks:
        hook.begin(run)
    step = start_step
    last_saved, last_saved_time = start_step, clock.monotonic()
    steps = examples = 0
    pending_save = False
    failed = True
    try:
        while True:
            at_max = max_steps is not None and step >= max_steps
            batch = None if at_max else next(batches, None)
            control = allreduce.sum(
                np.array([float(batch is None), float(pending_save)])
            )
            if control[1] > 0:
                if is_chief:
                    last_saved = save(step)
                    last_saved_time = clock.monotonic()
                allreduce.barrier()
                pending_save = False
            if control[0] > 0 or batch is None:
                break
            step += 1
            event = run_step(runner, hooks, batch, step, allreduce.rank)
            steps += 1
            examples += batch.size
            for hook in hooks:
                hook.after_step(event)
            if is_chief:
                pending_save = should_save(
                    step=step,
                    last_saved_step=last_saved,
                    last_saved_time=last_saved_time,
                    now=clock.monotonic(),
                    every_steps=every_steps,
                    every_secs=every_secs,
                )
        if is_chief and step > last_saved:
            save(step)
        allreduce.barrier()
        failed = False
    finally:
        for hook in hooks:
            hook.end(step, failed=failed)
    logger.info(
        "sync rank finished rank=%d steps=%d examples=%d global_step=%d",
        allreduce.rank,
        steps,
        examples,
        step,
    )
    return LoopResult(start_step, step, steps, examples)
