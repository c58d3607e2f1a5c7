"""The serving use case: the newest export version, hot reload and deltas.

:class:`PredictionService` implements
:class:`~monolith.ports.serving.PredictionHandler`. It holds one
:class:`~monolith.app.serving.model.ServingModel` reference; a reload builds
the next version completely and then swaps the reference, so every request
runs on exactly one version. Real-time deltas are applied per table under the
table's lock, and only when their version is newer than the last applied one
for the same (source, table). Applied deltas are kept (bounded) and replayed
onto a newly loaded version when they were read after that version's
checkpoint was written, so a reload does not roll rows back.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

import attrs
import numpy as np
import numpy.typing as npt

from monolith.app.serving.model import ServingModel
from monolith.app.storage import filesystem_for
from monolith.domain.errors import NotFoundError, ServingError, StorageError, UsageError
from monolith.domain.export_layout import version_dirs
from monolith.domain.paths import join
from monolith.domain.serving import (
    DeltaOutcome,
    EmbeddingDelta,
    PredictRequest,
    PredictResult,
    RequestLimits,
    TableDelta,
    delta_is_newer,
    validate_request,
)
from monolith.ports.clock import Clock
from monolith.ports.serving import ModelStatus, ServingMetrics
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

ModelLoader = Callable[[str], ServingModel]
Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]

DELTA_HISTORY_ROWS = 1_000_000
"""Most delta rows kept for replay onto a newly loaded version."""


@attrs.frozen
class _AppliedDelta:
    created_at: float
    table: TableDelta


class PredictionService:
    """Serves the newest version under ``export_dir`` (thread-safe)."""

    def __init__(
        self,
        export_dir: str,
        loader: ModelLoader,
        metrics: ServingMetrics,
        clock: Clock,
        limits: RequestLimits | None = None,
        fs: FileSystem | None = None,
    ) -> None:
        """``fs`` lists ``export_dir``; by default the adapter its URI scheme
        names (local, ``memory://``, ``hdfs://``)."""
        self.export_dir = export_dir
        self._fs = fs if fs is not None else filesystem_for(export_dir)
        self._loader = loader
        self._metrics = metrics
        self._clock = clock
        self._limits = limits if limits is not None else RequestLimits()
        self._model: ServingModel | None = None
        self._reload_lock = threading.Lock()
        self._delta_lock = threading.Lock()
        self._delta_versions: dict[tuple[str, str], int] = {}
        self._history: deque[_AppliedDelta] = deque()
        self._history_rows = 0
        self._failed: set[int] = set()
        self._listeners: list[Callable[[int], None]] = []
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # ---------------------------------------------------------------- handler

    def _current(self) -> ServingModel:
        model = self._model
        if model is None:
            raise ServingError(
                f"no model loaded yet from {self.export_dir}; export a version "
                "there (monolith export) and retry"
            )
        return model

    def predict(self, request: PredictRequest) -> PredictResult:
        model = self._current()
        validate_request(
            request, model.slot_names, model.spec.dense_features, self._limits
        )
        return PredictResult(model.predict(request), model.version)

    def apply_delta(self, delta: EmbeddingDelta) -> DeltaOutcome:
        with self._delta_lock:
            model = self._current()
            for i, table in enumerate(delta.tables):
                width = int(table.rows.shape[1]) if table.rows.ndim == 2 else -1
                model.check_delta(table.table, width, f"tables[{i}]")
            applied: list[str] = []
            ignored: list[str] = []
            for table in delta.tables:
                key = (delta.source, table.table)
                if not delta_is_newer(self._delta_versions.get(key), delta.version):
                    ignored.append(table.table)
                    continue
                model.apply(table.table, table.fids, table.rows)
                self._delta_versions[key] = delta.version
                self._remember(delta.created_at, table)
                applied.append(table.table)
        if applied:
            self._metrics.observe_sync_lag(self._clock.now() - delta.created_at)
        logger.debug(
            "delta handled source=%s version=%d applied=%s ignored=%s",
            delta.source,
            delta.version,
            applied,
            ignored,
        )
        return DeltaOutcome(tuple(applied), tuple(ignored), model.version)

    def lookup(self, table: str, fids: Int64Array) -> Float32Array:
        """Rows the served model reads for ``fids`` now (zeros when absent)."""
        model = self._current()
        if table not in model.table_names:
            raise UsageError(
                f"table {table!r} is not served; served tables: "
                f"{', '.join(model.table_names)}"
            )
        return model.lookup(table, np.asarray(fids, dtype=np.int64))

    def status(self) -> ModelStatus:
        model = self._model
        if model is None:
            return ModelStatus(False, -1, (), 0, ())
        return ModelStatus(
            loaded=True,
            model_version=model.version,
            slots=model.slot_names,
            dense_width=model.spec.dense_features,
            tables=model.table_names,
        )

    # ---------------------------------------------------------------- deltas kept

    def _remember(self, created_at: float, table: TableDelta) -> None:
        self._history.append(_AppliedDelta(created_at, table))
        self._history_rows += int(table.fids.shape[0])
        while self._history_rows > DELTA_HISTORY_ROWS and len(self._history) > 1:
            dropped = self._history.popleft()
            self._history_rows -= int(dropped.table.fids.shape[0])

    def _replay_onto(self, model: ServingModel) -> int:
        """Apply kept deltas read after the model's checkpoint; return rows applied."""
        since = model.manifest.checkpoint_wall_time
        rows = 0
        for entry in self._history:
            if entry.created_at <= since or entry.table.table not in model.table_names:
                continue
            if model.table(entry.table.table).width != entry.table.rows.shape[1]:
                continue
            model.apply(entry.table.table, entry.table.fids, entry.table.rows)
            rows += int(entry.table.fids.shape[0])
        while self._history and self._history[0].created_at <= since:
            dropped = self._history.popleft()
            self._history_rows -= int(dropped.table.fids.shape[0])
        return rows

    # ---------------------------------------------------------------- reload

    def on_model_loaded(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(version)`` after every successful load."""
        self._listeners.append(listener)

    def available_versions(self) -> list[int]:
        try:
            names = self._fs.listdir(self.export_dir)
            return [
                v
                for v in version_dirs(names)
                if self._fs.isdir(join(self.export_dir, str(v)))
            ]
        except NotFoundError:
            return []
        except StorageError as exc:
            raise ServingError(
                f"cannot list export dir {self.export_dir}: {exc}"
            ) from exc

    def refresh(self) -> bool:
        """Load the newest version if it is newer than the served one.

        A version that fails to load is logged and skipped until a newer one
        appears. Returns whether a new version is now served.
        """
        with self._reload_lock:
            current = self._model.version if self._model is not None else None
            candidates = [
                v
                for v in self.available_versions()
                if (current is None or v > current) and v not in self._failed
            ]
            for version in reversed(candidates):
                path = join(self.export_dir, str(version))
                try:
                    model = self._loader(path)
                except Exception as exc:  # a bad version must not stop serving
                    self._failed.add(version)
                    logger.warning(
                        "export version skipped version=%d path=%s reason=%s: %s",
                        version,
                        path,
                        type(exc).__name__,
                        exc,
                    )
                    continue
                with self._delta_lock:
                    replayed = self._replay_onto(model)
                    previous = self._model
                    self._model = model
                logger.info(
                    "serving version=%d previous=%s replayed_rows=%d",
                    version,
                    previous.version if previous is not None else None,
                    replayed,
                )
                self._metrics.set_model_version(version)
                for listener in self._listeners:
                    listener(version)
                return True
            return False

    def start_watching(self, interval: float) -> None:
        """Poll ``export_dir`` every ``interval`` seconds in a daemon thread."""
        if self._watcher is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.refresh()
                except Exception:  # the watcher outlives any one bad scan
                    logger.exception("export dir scan failed dir=%s", self.export_dir)

        self._watcher = threading.Thread(
            target=loop, name="monolith-export-watch", daemon=True
        )
        self._watcher.start()

    def stop_watching(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10.0)
            self._watcher = None
