"""Use cases behind ``monolith train``, ``evaluate`` and ``predict``.

Each takes the merged :class:`~monolith.domain.config.RunnerConfig`, builds
the file system and clock through the container, and runs an estimator.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from monolith.app.container import Container
from monolith.app.training.estimator import Estimator, EvalResult
from monolith.app.training.hooks import Hook
from monolith.app.training.inputs import (
    eval_batches,
    features_of,
    training_source,
)
from monolith.app.training.local_cluster import TrainOutcome
from monolith.app.training.runtime import (
    estimator_for_training,
    estimator_from_checkpoint,
)
from monolith.app.training.step import FidTransform
from monolith.domain.config import RunnerConfig
from monolith.domain.errors import UsageError
from monolith.ports.clock import Clock
from monolith.ports.storage import FileSystem

if TYPE_CHECKING:
    from monolith.app.realtime import RealtimeOptions

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]


@attrs.frozen
class TrainReport:
    """What a training run did, and the evaluation after it (with eval_data)."""

    outcome: TrainOutcome
    evaluation: EvalResult | None


def adapters(
    runner: RunnerConfig, fs: FileSystem | None = None, clock: Clock | None = None
) -> tuple[FileSystem, Clock]:
    """The file system and clock the config selects, unless both are given.

    A given ``fs`` or ``clock`` is kept; the container is built only when one
    of them is missing.
    """
    if fs is not None and clock is not None:
        return fs, clock
    container = Container.from_config(runner)
    default_fs: FileSystem = container.storage()
    default_clock: Clock = container.clock()
    return fs or default_fs, clock or default_clock


def _restored(
    runner: RunnerConfig,
    fs: FileSystem | None,
    clock: Clock | None,
    backend: str | None,
) -> tuple[Estimator, FileSystem]:
    """The estimator of ``runner.model_dir``'s newest checkpoint, and its fs.

    Raises:
        UsageError: model_dir is missing.
        NoCheckpointError: the model directory holds no valid checkpoint.
    """
    if runner.model_dir is None:
        raise UsageError("no model directory given: pass --model-dir DIR")
    fs, clock = adapters(runner, fs, clock)
    estimator, _ = estimator_from_checkpoint(
        fs, runner.model_dir, clock, backend=backend
    )
    return estimator, fs


def train_from_config(
    runner: RunnerConfig,
    *,
    epochs_set: bool = False,
    fs: FileSystem | None = None,
    clock: Clock | None = None,
    task_options: Mapping[str, Any] | None = None,
    fid_transform: FidTransform | None = None,
    realtime: RealtimeOptions | None = None,
) -> TrainReport:
    """Train ``runner.task`` on ``runner.data`` into ``runner.model_dir``.

    With ``realtime``, rows touched by training are pushed to the serving
    replicas every ``realtime.sync_interval`` seconds (docs/serving.md).

    With ``steps`` set and ``epochs`` not set by the user, the data repeats
    until the step is reached; otherwise training stops after ``epochs``
    passes (or at ``steps``, whichever comes first).

    Raises:
        UsageError: task, data or model_dir is missing.
    """
    if runner.data is None:
        raise UsageError("no training data given: pass --data PATTERN")
    fs, clock = adapters(runner, fs, clock)
    features = features_of(fs, runner.data)
    estimator = estimator_for_training(
        runner,
        fs=fs,
        clock=clock,
        features=features,
        task_options=task_options,
        fid_transform=fid_transform,
    )
    epochs = None if runner.steps is not None and not epochs_set else runner.epochs
    source = training_source(
        fs,
        runner.data,
        features,
        batch_size=runner.batch_size,
        epochs=epochs,
        seed=runner.seed,
    )
    try:
        hooks: list[Hook] = []
        if realtime is not None:
            from monolith.app.realtime import RealtimeSyncHook

            hooks.append(
                RealtimeSyncHook(
                    realtime,
                    lambda: estimator.store,
                    [t.name for t in estimator.spec.tables],
                    clock,
                )
            )
        outcome = estimator.train(source, max_steps=runner.steps, hooks=hooks)
        evaluation = None
        if runner.eval_data is not None:
            evaluation = estimator.evaluate(
                eval_batches(fs, runner.eval_data, features, runner.batch_size)
            )
    finally:
        estimator.close()
    return TrainReport(outcome, evaluation)


def evaluate_from_config(
    runner: RunnerConfig,
    *,
    fs: FileSystem | None = None,
    clock: Clock | None = None,
    backend: str | None = None,
) -> EvalResult:
    """Evaluate the newest checkpoint of ``runner.model_dir`` on ``runner.data``.

    Raises:
        UsageError: data or model_dir is missing.
        NoCheckpointError: the model directory holds no valid checkpoint.
    """
    data = runner.eval_data or runner.data
    if data is None:
        raise UsageError("no evaluation data given: pass --data PATTERN")
    estimator, fs = _restored(runner, fs, clock, backend)
    try:
        features = estimator.features or features_of(fs, data)
        return estimator.evaluate(eval_batches(fs, data, features, runner.batch_size))
    finally:
        estimator.close()


def predict_from_config(
    runner: RunnerConfig,
    *,
    fs: FileSystem | None = None,
    clock: Clock | None = None,
    backend: str | None = None,
) -> Float32Array:
    """Scores of every example of ``runner.data`` with the newest checkpoint.

    Raises:
        UsageError: data or model_dir is missing.
        NoCheckpointError: the model directory holds no valid checkpoint.
    """
    if runner.data is None:
        raise UsageError("no input data given: pass --data PATTERN")
    estimator, fs = _restored(runner, fs, clock, backend)
    try:
        features = estimator.features or features_of(fs, runner.data)
        return estimator.predict(
            eval_batches(fs, runner.data, features, runner.batch_size)
        )
    finally:
        estimator.close()
