"""One loaded export version: its tables, its dense tower and how to score.

:func:`load_export` reads ``<export_dir>/<version>/`` (see
:mod:`monolith.domain.export_layout`) into a :class:`ServingModel`. The dense
tower is rebuilt by a compute backend from the model spec and the exported
parameters. A backend serves one thread at a time, so the model keeps a small
pool of identical backends, created on demand up to ``max_backends``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import numpy.typing as npt

from monolith.app.checkpoints import dense_file_name
from monolith.app.storage import filesystem_for
from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.errors import (
    ComputeError,
    ExportError,
    ServingError,
    StorageError,
    UsageError,
)
from monolith.domain.export_layout import MANIFEST_NAME, ExportManifest
from monolith.domain.export_validation import sample_validation_batch
from monolith.domain.inference_tower import pool, supports, tower_scores
from monolith.domain.model_spec import ModelSpec, model_spec_from_dict
from monolith.domain.paths import join
from monolith.domain.quantization import QuantizedRows
from monolith.domain.serving import PredictRequest
from monolith.domain.serving_table import ServingTable
from monolith.domain.tower_plan import TowerPlan, plan_tower
from monolith.ports.compute import ComputeBackend, SlotInput, TowerInputs
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]
BackendFactory = Callable[[str], ComputeBackend]

NUMPY_TOWER_TOLERANCE = 1e-4
"""Largest score difference on the probe batch for the numpy tower to be used."""

NUMPY_TOWER_MAX_BATCH = 16
"""Larger batches go to the backend: its kernels win once dispatch is amortised,
and numpy's BLAS may start threads that fight the server's worker threads."""


def tower_inputs(
    spec: ModelSpec,
    slots: Mapping[str, RaggedFids],
    dense: Float32Array,
    batch_size: int,
    lookup: Callable[[str, Int64Array], Float32Array],
    dedupe: bool = False,
) -> TowerInputs:
    """Look up each slot's fids and index every occurrence to its row.

    Inference needs no gradient per unique fid, so by default every
    occurrence gets its own row (no ``np.unique``, which dominates small
    batches); ``dedupe`` looks each distinct fid up once.
    """
    inputs: dict[str, SlotInput] = {}
    for slot in spec.slots:
        fids = slots[slot.name]
        if dedupe:
            unique, inverse = np.unique(fids.values, return_inverse=True)
            rows, index = lookup(slot.table, unique), inverse.reshape(-1)
        else:
            rows = lookup(slot.table, fids.values)
            index = np.arange(fids.values.shape[0], dtype=np.int64)
        inputs[slot.name] = SlotInput(
            rows=rows,
            index=index.astype(np.int64, copy=False),
            row_splits=fids.row_splits,
        )
    matrix = np.asarray(dense, dtype=np.float32).reshape(
        batch_size, spec.dense_features
    )
    return TowerInputs(slots=inputs, dense=matrix)


class BackendPool:
    """Up to ``size`` compute backends built from one spec and parameter set."""

    def __init__(self, make: Callable[[], ComputeBackend], size: int) -> None:
        self._make = make
        self._size = max(1, size)
        self._idle: queue.LifoQueue[ComputeBackend] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()
        self._idle.put(self._new())

    def _new(self) -> ComputeBackend:
        backend = self._make()
        self._created += 1
        return backend

    @contextlib.contextmanager
    def acquire(self) -> Iterator[ComputeBackend]:
        try:
            backend = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = self._created < self._size
                if grow:
                    self._created += 1
            backend = self._make() if grow else self._idle.get()
        try:
            yield backend
        finally:
            self._idle.put(backend)


class ServingModel:
    """An export version ready to score: tables behind locks plus a backend pool."""

    def __init__(
        self,
        manifest: ExportManifest,
        spec: ModelSpec,
        tables: dict[str, ServingTable],
        pool: BackendPool,
    ) -> None:
        self.manifest = manifest
        self.spec = spec
        self.version = manifest.version
        self._tables = tables
        self._locks = {name: threading.Lock() for name in tables}
        self._pool = pool
        self.slot_names = tuple(slot.name for slot in spec.slots)
        self._slot_routes = tuple(
            (slot.name, slot.table, self._locks[slot.table], slot.pooling)
            for slot in spec.slots
        )
        self._fast: tuple[TowerPlan, dict[str, Float32Array]] | None = None

    @property
    def uses_numpy_tower(self) -> bool:
        return self._fast is not None

    def enable_numpy_tower(
        self, plan: TowerPlan, params: dict[str, Float32Array], probe: Batch
    ) -> float:
        """Score with :mod:`~monolith.domain.inference_tower` from now on if it
        matches the backend on ``probe``; return the largest difference."""
        backend_scores = self.predict(_request(probe))
        self._fast = (plan, params)
        fast_scores = self.predict(_request(probe))
        diff = float(np.max(np.abs(backend_scores - fast_scores), initial=0.0))
        if not diff <= NUMPY_TOWER_TOLERANCE:
            self._fast = None
        return diff

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._tables))

    def table(self, name: str) -> ServingTable:
        return self._tables[name]

    def lookup(self, table: str, fids: Int64Array) -> Float32Array:
        with self._locks[table]:
            return self._tables[table].lookup(fids)

    def predict(self, request: PredictRequest) -> Float32Array:
        """Scores ``[B]`` for a validated request."""
        dense = np.asarray(request.dense, dtype=np.float32).reshape(
            request.batch_size, self.spec.dense_features
        )
        if self._fast is not None and request.batch_size <= NUMPY_TOWER_MAX_BATCH:
            plan, params = self._fast
            pooled = {}
            for name, table, lock, mode in self._slot_routes:
                fids = request.slots[name]
                with lock:
                    rows = self._tables[table].lookup(fids.values)
                pooled[name] = pool(rows, fids.row_splits, mode)
            return tower_scores(plan, params, pooled, dense, self.spec.loss)
        inputs = tower_inputs(
            self.spec, request.slots, request.dense, request.batch_size, self.lookup
        )
        with self._pool.acquire() as backend:
            scores = backend.predict(inputs)
        return np.asarray(scores, dtype=np.float32).reshape(-1)

    def check_delta(self, table: str, width: int, field: str) -> None:
        """Raise UsageError naming ``field`` unless ``table`` is served at ``width``."""
        if table not in self._tables:
            raise UsageError(
                f"{field}.table {table!r} is not served; served tables: "
                f"{', '.join(self.table_names)}"
            )
        expected = self._tables[table].width
        if width != expected:
            raise UsageError(
                f"{field}.width must be {expected} for table {table}, got {width}"
            )

    def apply(self, table: str, fids: Int64Array, rows: Float32Array) -> None:
        """Set rows of one table atomically with respect to lookups."""
        with self._locks[table]:
            self._tables[table].apply(fids, rows)


def _request(batch: Batch) -> PredictRequest:
    return PredictRequest(
        slots=dict(batch.sparse), dense=batch.dense.ravel(), batch_size=batch.size
    )


def _load_array(fs: FileSystem, path: str) -> npt.NDArray[np.generic]:
    try:
        with fs.open(path, "rb") as handle:
            array: npt.NDArray[np.generic] = np.load(handle, allow_pickle=False)
        return array
    except (StorageError, OSError, ValueError) as exc:
        raise ExportError(f"cannot read export file {path}: {exc}") from exc


def read_export_manifest(
    version_dir: str, fs: FileSystem | None = None
) -> ExportManifest:
    """The ``export.json`` of ``version_dir``, read through ``fs``.

    ``fs`` defaults to the adapter the path's URI scheme names.
    """
    files = fs if fs is not None else filesystem_for(version_dir)
    path = join(version_dir, MANIFEST_NAME)
    try:
        with files.open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (StorageError, OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read export manifest {path}: {exc}") from exc
    return ExportManifest.from_json(text, source=path)


def load_tables(
    version_dir: str, manifest: ExportManifest, spec: ModelSpec, fs: FileSystem
) -> dict[str, ServingTable]:
    tables: dict[str, ServingTable] = {}
    exported = {t.name: t for t in manifest.tables}
    for config in spec.tables:
        entry = exported.get(config.name)
        if entry is None:
            empty = QuantizedRows(32, np.zeros((0, config.width), dtype=np.float32))
            tables[config.name] = ServingTable(
                config.name, np.zeros(0, dtype=np.int64), empty
            )
            continue
        base = join(version_dir, "tables", config.name)
        fids = _load_array(fs, join(base, "fids.npy")).astype(np.int64)
        values = _load_array(fs, join(base, "values.npy"))
        scales = None
        if entry.bits == 8:
            scales = _load_array(fs, join(base, "scales.npy")).astype(np.float32)
        tables[config.name] = ServingTable(
            config.name, fids, QuantizedRows(entry.bits, values, scales)
        )
    return tables


def load_dense(
    version_dir: str, manifest: ExportManifest, fs: FileSystem
) -> dict[str, Float32Array]:
    return {
        name: _load_array(fs, join(version_dir, "dense", dense_file_name(name))).astype(
            np.float32
        )
        for name in manifest.dense
    }


def load_export(
    version_dir: str,
    make_backend: BackendFactory,
    max_backends: int = 4,
    numpy_tower: bool = True,
    fs: FileSystem | None = None,
) -> ServingModel:
    """Read one export version through ``fs`` and build its tower.

    ``fs`` defaults to the adapter the path's URI scheme names
    (:func:`monolith.app.storage.filesystem_for`), so a version may live on
    the local disk, in ``memory://`` or on ``hdfs://``.

    With ``numpy_tower``, built-in mlp/deepfm towers are scored in numpy for
    batches up to :data:`NUMPY_TOWER_MAX_BATCH` (much less per-call overhead
    than a framework's eager dispatch) once a probe batch shows
    the same scores as the backend within :data:`NUMPY_TOWER_TOLERANCE`.

    Raises:
        ExportError: a file is missing or malformed.
        ServingError: the tower cannot be built from the export.
    """
    files = fs if fs is not None else filesystem_for(version_dir)
    manifest = read_export_manifest(version_dir, files)
    spec = model_spec_from_dict(manifest.model_spec)
    tables = load_tables(version_dir, manifest, spec, files)
    params = load_dense(version_dir, manifest, files)

    def make() -> ComputeBackend:
        backend = make_backend(manifest.backend)
        backend.build(spec)
        backend.load_parameters(params)
        return backend

    try:
        pool = BackendPool(make, max_backends)
    except Exception as exc:
        raise ServingError(
            f"cannot build the {manifest.backend} tower of {version_dir}: {exc}"
        ) from exc
    model = ServingModel(manifest, spec, tables, pool)
    if numpy_tower:
        _try_numpy_tower(model, spec, params, tables)
    logger.info(
        "export loaded version=%d path=%s tables=%d bits=%d numpy_tower=%s",
        manifest.version,
        version_dir,
        len(tables),
        manifest.quantize_bits,
        model.uses_numpy_tower,
    )
    return model


def _try_numpy_tower(
    model: ServingModel,
    spec: ModelSpec,
    params: dict[str, Float32Array],
    tables: dict[str, ServingTable],
) -> None:
    try:
        plan = plan_tower(spec)
    except ComputeError:
        return
    if not supports(plan) or not set(params) >= _tower_parameter_names(plan):
        return
    fids = {name: table.all_rows()[0] for name, table in tables.items()}
    probe = sample_validation_batch(spec, fids, NUMPY_TOWER_MAX_BATCH, seed=1)
    diff = model.enable_numpy_tower(plan, params, probe)
    if not model.uses_numpy_tower:
        logger.warning(
            "numpy tower disabled version=%d reason=differs from backend by %.3g",
            model.version,
            diff,
        )


def _tower_parameter_names(plan: TowerPlan) -> set[str]:
    names = {"out.kernel", "out.bias"}
    for i in range(len(plan.hidden)):
        names |= {f"mlp.{i}.kernel", f"mlp.{i}.bias"}
    return names
