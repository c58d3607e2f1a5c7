"""Checkpoints of a multi-process job: every PS shard plus the chief's dense state.

The chief saves through :class:`~monolith.app.checkpoints.CheckpointManager`
with the remote store: each PS writes its shard into the checkpoint's
``tables/`` payload directory (the Snapshot RPC, so the model directory must
be storage every PS sees), the chief writes the dense state, and the manifest
goes last. The manifest carries what ``monolith evaluate`` and ``predict``
need (model spec, feature spec, task options), as ``monolith train`` writes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from monolith.app.checkpoints import CheckpointManager
from monolith.domain.checkpoint import CheckpointManifest
from monolith.domain.config import RunnerConfig
from monolith.domain.errors import ConfigError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.model_spec import ModelSpec, model_spec_to_dict
from monolith.ports.compute import ComputeBackend
from monolith.ports.parameters import ParameterStore

logger = logging.getLogger(__name__)


class JobCheckpoints:
    """Save and restore checkpoints covering the whole job.

    Args:
        manager: The model directory's checkpoint manager.
        spec: The model trained.
        task: Task name recorded in manifests.
        features: The data's feature spec, recorded for evaluate/predict.
        task_options: Options the task was built with.
        runner: The merged configuration, recorded in manifests.
        num_workers: Workers of the job, recorded in manifests.
    """

    def __init__(
        self,
        manager: CheckpointManager,
        spec: ModelSpec,
        *,
        task: str,
        features: FeatureSpec | None,
        task_options: Mapping[str, Any] | None,
        runner: RunnerConfig,
        num_workers: int,
    ) -> None:
        self.manager = manager
        self._spec = spec
        self._task = task
        self._features = features
        self._task_options = dict(task_options or {})
        self._config = json_config(runner)
        self._num_workers = num_workers

    def restore(self, store: ParameterStore, backend: ComputeBackend) -> int:
        """Load the newest valid checkpoint into every PS shard and ``backend``.

        Returns:
            The restored step, or 0 when the model directory has none.

        Raises:
            ConfigError: the newest checkpoint is of another model.
        """
        if not self.manager.has_checkpoint():
            logger.info("no checkpoint to restore model_dir=%s", self.manager.model_dir)
            return 0
        status = self.manager.latest_valid()
        manifest = status.manifest
        if manifest is not None and manifest.model_spec:
            name = manifest.model_spec.get("name")
            if name != self._spec.name:
                raise ConfigError(
                    f"{self.manager.model_dir!r} holds checkpoints of model {name!r} "
                    f"(task {manifest.task!r}), not {self._spec.name!r}: use another "
                    "--model-dir or the same task"
                )
        restored = self.manager.restore(store, backend)
        return restored.step

    def save(
        self, step: int, store: ParameterStore, backend: ComputeBackend
    ) -> CheckpointManifest:
        """Write checkpoint ``step`` of every PS shard and ``backend``'s state."""
        extra: dict[str, Any] = {
            "task_options": self._task_options,
            "tables": [
                {"name": t.name, "rows": t.rows, "dim": t.dim} for t in store.tables()
            ],
            "num_ps": store.num_shards,
            "num_workers": self._num_workers,
        }
        if self._features is not None:
            extra["feature_spec"] = self._features.to_dict()
        return self.manager.save(
            step,
            store,
            backend,
            task=self._task,
            config=self._config,
            model_spec=model_spec_to_dict(self._spec),
            extra=extra,
        )


def json_config(runner: RunnerConfig) -> dict[str, Any]:
    """The config values a JSON manifest can hold."""
    values: dict[str, Any] = {}
    for name, value in runner.values().items():
        if isinstance(value, tuple):
            value = list(value)
        if value is None or isinstance(value, str | int | float | bool | list):
            values[name] = value
    return values
