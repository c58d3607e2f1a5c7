"""Builds estimators from configuration: backends, stores, tasks and settings.

Adapters (torch, TensorFlow, the local parameter store) are imported inside
the factories, so importing this module loads no heavy library.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from monolith.app.tasks import resolve_task
from monolith.app.training.estimator import Estimator, TrainSettings
from monolith.app.training.local_cluster import BackendFactory, StoreFactory
from monolith.app.training.step import FidTransform
from monolith.domain.checkpoint import CheckpointManifest
from monolith.domain.config import RunnerConfig
from monolith.domain.errors import ConfigError, UsageError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.model_spec import ModelSpec, model_spec_from_dict
from monolith.ports.clock import Clock
from monolith.ports.compute import ComputeBackend
from monolith.ports.parameters import ParameterStore
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "tf")


def backend_factory(name: str, *, num_threads: int | None = None) -> BackendFactory:
    """A factory of unbuilt compute backends called ``name`` (torch or tf).

    Raises:
        ConfigError: ``name`` is not a known backend.
    """
    if name == "torch":

        def make_torch() -> ComputeBackend:
            from monolith.adapters.compute.torch_compute import TorchCompute

            return TorchCompute(num_threads=num_threads)

        return make_torch
    if name in ("tf", "tensorflow"):

        def make_tf() -> ComputeBackend:
            from monolith.adapters.compute.tf_compute import TfCompute

            return TfCompute()

        return make_tf
    raise ConfigError(
        f"backend {name!r} is not known: expected one of {', '.join(BACKENDS)}"
    )


def local_store_factory(fs: FileSystem) -> StoreFactory:
    """A factory of in-process parameter stores snapshotting through ``fs``."""

    def make(num_shards: int) -> ParameterStore:
        from monolith.adapters.parameters.local import LocalParameterStore

        return LocalParameterStore(num_shards, fs=fs)

    return make


def train_settings(runner: RunnerConfig) -> TrainSettings:
    """The estimator's settings from the merged configuration."""
    return TrainSettings(
        num_ps=max(1, runner.num_ps),
        num_workers=runner.num_workers,
        save_checkpoints_steps=runner.save_checkpoints_steps,
        save_checkpoints_secs=runner.save_checkpoints_secs,
        max_to_keep=runner.max_to_keep,
        log_every_steps=runner.log_step_count_steps,
        tensorboard=runner.save_summary_steps > 0,
        summary_every_steps=max(1, runner.save_summary_steps),
        max_pending_secs=runner.max_pending_seconds_for_barrier,
    )


def build_spec(
    task: str, features: FeatureSpec, options: Mapping[str, Any] | None = None
) -> ModelSpec:
    """The model spec of ``task`` for data with ``features``."""
    return resolve_task(task).build_spec(features, **dict(options or {}))


def estimator_for_training(
    runner: RunnerConfig,
    *,
    fs: FileSystem,
    clock: Clock,
    features: FeatureSpec,
    task_options: Mapping[str, Any] | None = None,
    fid_transform: FidTransform | None = None,
    settings: TrainSettings | None = None,
    spec: ModelSpec | None = None,
) -> Estimator:
    """An estimator for ``runner.task`` writing into ``runner.model_dir``.

    Raises:
        UsageError: ``task`` or ``model_dir`` is not set.
    """
    if runner.task is None:
        raise UsageError("no task given: pass --task package.module.ClassName")
    if runner.model_dir is None:
        raise UsageError("no model directory given: pass --model-dir DIR")
    if spec is None:
        spec = build_spec(runner.task, features, task_options)
    return Estimator(
        spec,
        task=runner.task,
        fs=fs,
        model_dir=runner.model_dir,
        backend_factory=backend_factory(runner.backend),
        store_factory=local_store_factory(fs),
        clock=clock,
        settings=settings or train_settings(runner),
        features=features,
        task_options=task_options,
        run_config=_json_config(runner),
        fid_transform=fid_transform,
    )


def estimator_from_checkpoint(
    fs: FileSystem,
    model_dir: str,
    clock: Clock,
    *,
    backend: str | None = None,
) -> tuple[Estimator, CheckpointManifest]:
    """An estimator that evaluates or predicts with ``model_dir``'s newest checkpoint.

    The model spec, task and feature spec come from the checkpoint manifest;
    ``backend`` overrides the backend it was trained with.

    Raises:
        NoCheckpointError: ``model_dir`` holds no valid checkpoint.
    """
    from monolith.app.checkpoints import CheckpointManager

    status = CheckpointManager(fs, model_dir, clock).latest_valid()
    manifest = status.manifest
    assert manifest is not None  # a valid status always carries its manifest
    if not manifest.model_spec:
        raise ConfigError(
            f"checkpoint {status.manifest_path!r} records no model spec; it was "
            "not written by monolith train"
        )
    spec = model_spec_from_dict(manifest.model_spec)
    features_data = manifest.extra.get("feature_spec")
    features = FeatureSpec.from_dict(features_data) if features_data else None
    estimator = Estimator(
        spec,
        task=manifest.task,
        fs=fs,
        model_dir=model_dir,
        backend_factory=backend_factory(backend or manifest.backend),
        store_factory=local_store_factory(fs),
        clock=clock,
        settings=TrainSettings(tensorboard=False, progress_bar=False),
        features=features,
        task_options=dict(manifest.extra.get("task_options", {})),
    )
    return estimator, manifest


def _json_config(runner: RunnerConfig) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in runner.values().items():
        if isinstance(value, tuple):
            value = list(value)
        if value is None or isinstance(value, str | int | float | bool | list):
            values[name] = value
    return values
