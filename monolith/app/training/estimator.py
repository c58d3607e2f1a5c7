"""The estimator: train, evaluate and predict one model in one model directory.

``train`` restores the newest valid checkpoint of ``model_dir`` (logging
``restored from checkpoint-<step>``), then runs a
:class:`~monolith.app.training.local_cluster.LocalCluster` with the NaN
guard, the logging hook, TensorBoard summaries and the checkpoint hook, and
saves once more at the end. ``max_steps`` counts global steps, so rerunning
the same command after a crash trains only what is left.

``evaluate`` and ``predict`` (decision 16) really compute: they run the model
over the given batches, with the parameters of this estimator's last training
run or, in a fresh estimator, of the newest valid checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from monolith.app.checkpoints import CheckpointManager
from monolith.app.training.hooks import (
    CheckpointHook,
    Hook,
    LoggingHook,
    NonFiniteLossGuard,
    SummaryHook,
)
from monolith.app.training.local_cluster import (
    BackendFactory,
    BatchSource,
    LocalCluster,
    StoreFactory,
    TrainOutcome,
)
from monolith.app.training.step import FidTransform
from monolith.domain.batch import Batch
from monolith.domain.checkpoint import CheckpointManifest
from monolith.domain.errors import ConfigError, UsageError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.metrics import auc, logloss, mean_squared_error
from monolith.domain.model_spec import ModelSpec, model_spec_to_dict
from monolith.domain.paths import join
from monolith.ports.clock import Clock
from monolith.ports.parameters import ParameterStore
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]


@attrs.frozen
class TrainSettings:
    """How training runs; every field has the default ``monolith train`` uses.

    Attributes:
        num_ps: Parameter-store shards.
        num_workers: Worker threads (worker 0 is the chief).
        save_checkpoints_steps: Save every this many steps (None: unset).
        save_checkpoints_secs: Save every this many seconds (None: unset).
        max_to_keep: Unprotected checkpoints kept; 0 keeps all.
        log_every_steps: Steps between progress log lines and summaries.
        progress_bar: Show a progress bar; None shows one on a terminal.
        tensorboard: Write TensorBoard event files under ``model_dir/events``.
        summary_every_steps: Steps between TensorBoard scalars.
        max_pending_secs: How long a save waits for workers to block.
    """

    num_ps: int = 1
    num_workers: int = 1
    save_checkpoints_steps: int | None = None
    save_checkpoints_secs: float | None = None
    max_to_keep: int = 10
    log_every_steps: int = 100
    progress_bar: bool | None = None
    tensorboard: bool = True
    summary_every_steps: int = 100
    max_pending_secs: float | None = 30.0


@attrs.frozen
class EvalResult:
    """Metrics of one evaluation pass.

    ``auc`` and ``logloss`` are set for classification (``bce``) models,
    ``mse`` for regression (``mse``) models.
    """

    step: int
    examples: int
    auc: float | None = None
    logloss: float | None = None
    mse: float | None = None

    def line(self) -> str:
        """The one-line summary ``monolith evaluate`` prints."""
        if self.mse is not None:
            return f"mse={self.mse:.6f} examples={self.examples}"
        return f"auc={self.auc:.6f} logloss={self.logloss:.6f} examples={self.examples}"


class Estimator:
    """Trains, evaluates and predicts one model in one model directory.

    Args:
        spec: The model.
        task: Task name recorded in checkpoints.
        fs: File system of ``model_dir``.
        model_dir: Where checkpoints (and TensorBoard events) go.
        backend_factory: Builds a new compute backend.
        store_factory: Builds a parameter store with a given shard count.
        clock: Wall and monotonic time.
        settings: How training runs.
        features: The data's feature spec, recorded in checkpoints.
        task_options: Options the task was built with, recorded in checkpoints.
        run_config: The merged configuration, recorded in checkpoints.
        fid_transform: Optional fid rewrite (hashed-bucket experiments).
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        task: str,
        fs: FileSystem,
        model_dir: str,
        backend_factory: BackendFactory,
        store_factory: StoreFactory,
        clock: Clock,
        settings: TrainSettings = TrainSettings(),
        features: FeatureSpec | None = None,
        task_options: Mapping[str, Any] | None = None,
        run_config: Mapping[str, Any] | None = None,
        fid_transform: FidTransform | None = None,
    ) -> None:
        self.spec = spec
        self.task = task
        self.fs = fs
        self.model_dir = model_dir
        self.settings = settings
        self.features = features
        self.task_options = dict(task_options or {})
        self.run_config = dict(run_config or {})
        self._backend_factory = backend_factory
        self._store_factory = store_factory
        self._clock = clock
        self._fid_transform = fid_transform
        self.checkpoints = CheckpointManager(
            fs, model_dir, clock, max_to_keep=settings.max_to_keep
        )
        self._cluster: LocalCluster | None = None
        self._step = 0

    @property
    def global_step(self) -> int:
        """The step of the parameters this estimator holds (0 before any)."""
        return self._step

    @property
    def store(self) -> ParameterStore:
        """The parameter store of the running model (real-time sync reads it).

        Raises:
            UsageError: no model yet (before ``train`` starts or a restore).
        """
        if self._cluster is None:
            raise UsageError("the estimator has no model yet; call train first")
        return self._cluster.store

    # ------------------------------------------------------------------ model

    def _new_cluster(self) -> LocalCluster:
        cluster = LocalCluster(
            self.spec,
            num_ps=self.settings.num_ps,
            num_workers=self.settings.num_workers,
            store_factory=self._store_factory,
            backend_factory=self._backend_factory,
            clock=self._clock,
            fid_transform=self._fid_transform,
            max_pending_secs=self.settings.max_pending_secs,
        )
        cluster.start()
        return cluster

    def _restore_into(self, cluster: LocalCluster, *, required: bool) -> int:
        if not self.checkpoints.has_checkpoint():
            if required:
                self.checkpoints.latest_valid()  # raises, naming the directory
            return 0
        status = self.checkpoints.latest_valid()
        if status.manifest is not None:
            self._check_compatible(status.manifest)
        saved_on_store = (
            status.manifest is not None
            and int(status.manifest.extra.get("num_workers", 1)) > 1
        )
        if saved_on_store:
            # The snapshot holds the PS dense values and optimizer state:
            # install placeholders first so the restore replaces them.
            cluster.install_dense()
        manifest = self.checkpoints.restore(cluster.store, cluster.chief_backend)
        # Otherwise the PS starts from the chief's restored parameters.
        cluster.install_dense()
        return manifest.step

    def _check_compatible(self, manifest: CheckpointManifest) -> None:
        if manifest.model_spec and manifest.model_spec.get("name") != self.spec.name:
            raise ConfigError(
                f"{self.model_dir!r} holds checkpoints of model "
                f"{manifest.model_spec.get('name')!r} (task {manifest.task!r}), "
                f"not {self.spec.name!r}: use another --model-dir or the same task"
            )

    def _model(self) -> LocalCluster:
        """The cluster holding the current parameters, restoring if needed."""
        if self._cluster is None:
            cluster = self._new_cluster()
            self._step = self._restore_into(cluster, required=True)
            self._cluster = cluster
        return self._cluster

    # ------------------------------------------------------------------ train

    def train(
        self,
        batches: BatchSource,
        *,
        max_steps: int | None = None,
        hooks: Sequence[Hook] = (),
    ) -> TrainOutcome:
        """Train until global step ``max_steps`` (or the data ends).

        Args:
            batches: ``(worker_index, num_workers) -> batches`` of that worker.
            max_steps: The global step to stop at; None trains until every
                worker's data ends.
            hooks: Extra hooks, run after the built-in ones.

        Raises:
            NonFiniteLossError: the loss became NaN or Inf (naming the step).
            ConfigError: ``model_dir`` holds checkpoints of another model.
        """
        if max_steps is not None and max_steps < 0:
            raise UsageError(f"max_steps must be >= 0, got {max_steps}")
        if self._cluster is None:
            cluster = self._new_cluster()
            self._step = self._restore_into(cluster, required=False)
            self._cluster = cluster
        cluster = self._cluster
        start = self._step
        if max_steps is not None and start >= max_steps:
            logger.info(
                "training skipped step=%d max_steps=%d reason=already reached",
                start,
                max_steps,
            )
            return TrainOutcome(start, start, 0, (0,) * cluster.num_workers)

        def save(requested: int) -> int:
            return cluster.with_save_barrier(lambda: self._save(cluster))

        all_hooks: list[Hook] = [
            NonFiniteLossGuard(),
            LoggingHook(
                self._clock,
                every_steps=self.settings.log_every_steps,
                progress_bar=self.settings.progress_bar,
            ),
        ]
        summary = self._summary_hook()
        if summary is not None:
            all_hooks.append(summary)
        all_hooks.append(
            CheckpointHook(
                save,
                self._clock,
                every_steps=self.settings.save_checkpoints_steps,
                every_secs=self.settings.save_checkpoints_secs,
            )
        )
        all_hooks.extend(hooks)
        try:
            outcome = cluster.train(
                batches, start_step=start, max_steps=max_steps, hooks=all_hooks
            )
        finally:
            self._step = cluster.global_step
        return outcome

    def _save(self, cluster: LocalCluster) -> int:
        step = cluster.global_step
        cluster.sync_chief_dense()
        extra: dict[str, Any] = {
            "task_options": self.task_options,
            "tables": [
                {"name": t.name, "rows": t.rows, "dim": t.dim}
                for t in cluster.store.tables()
            ],
            "num_ps": cluster.num_ps,
            "num_workers": cluster.num_workers,
        }
        if self.features is not None:
            extra["feature_spec"] = self.features.to_dict()
        self.checkpoints.save(
            step,
            cluster.store,
            cluster.chief_backend,
            task=self.task,
            config=self.run_config,
            model_spec=model_spec_to_dict(self.spec),
            extra=extra,
        )
        return step

    def _summary_hook(self) -> SummaryHook | None:
        if not self.settings.tensorboard:
            return None
        from monolith.adapters.summaries.event_files import EventFileScalarWriter

        writer = EventFileScalarWriter(self.fs, join(self.model_dir, "events"))
        return SummaryHook(
            writer, self._clock, every_steps=self.settings.summary_every_steps
        )

    # ------------------------------------------------------------------ eval

    def predict(self, batches: Batch | Iterable[Batch]) -> Float32Array:
        """Scores ``[N]`` for every example of ``batches``, in order."""
        cluster = self._model()
        worker = cluster.chief_step
        cluster.sync_chief_dense()
        parts = [worker.predict(batch) for batch in _batches(batches)]
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(
            [np.asarray(p, dtype=np.float32).reshape(-1) for p in parts]
        )

    def evaluate(self, batches: Batch | Iterable[Batch]) -> EvalResult:
        """Metrics over every example of ``batches``.

        Raises:
            UsageError: ``batches`` holds no example.
        """
        cluster = self._model()
        worker = cluster.chief_step
        cluster.sync_chief_dense()
        labels: list[Float32Array] = []
        scores: list[Float32Array] = []
        for batch in _batches(batches):
            labels.append(np.asarray(batch.label, dtype=np.float32).reshape(-1))
            scores.append(np.asarray(worker.predict(batch)).reshape(-1))
        if not labels:
            raise UsageError("evaluation data holds no example: check --data")
        y = np.concatenate(labels)
        p = np.concatenate(scores)
        if self.spec.loss == "mse":
            result = EvalResult(
                self._step, int(y.shape[0]), mse=mean_squared_error(y, p)
            )
        else:
            result = EvalResult(
                self._step, int(y.shape[0]), auc=auc(y, p), logloss=logloss(y, p)
            )
        logger.info("evaluation done step=%d %s", self._step, result.line())
        return result

    def close(self) -> None:
        """Stop the cluster and release the store."""
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None


def _batches(batches: Batch | Iterable[Batch]) -> Iterable[Batch]:
    if isinstance(batches, Batch):
        return (batches,)
    return batches
