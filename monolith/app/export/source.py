"""Read what an export needs from a checkpoint: spec, dense parameters, table rows.

The tables are restored into a fresh parameter store and read back with
``touched_since(table, -1)`` (every fid with its row); optimizer state stays
behind. The dense tower is rebuilt by the checkpoint's backend from its saved
state, and only its parameters are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs
import numpy as np
import numpy.typing as npt

from monolith.app.checkpoints import (
    TABLES_DIR,
    CheckpointManager,
    resolve_checkpoint,
)
from monolith.domain.checkpoint import CheckpointManifest
from monolith.domain.errors import CheckpointError, NotFoundError
from monolith.domain.model_spec import ModelSpec, model_spec_from_dict
from monolith.domain.paths import join
from monolith.ports.compute import ComputeBackend
from monolith.ports.parameters import ParameterStore
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]
StoreFactory = Callable[[ModelSpec], ParameterStore]
BackendFactory = Callable[[str], ComputeBackend]


@attrs.frozen
class CheckpointRef:
    """A resolved, verified checkpoint."""

    model_dir: str
    step: int
    manifest_path: str
    manifest: CheckpointManifest


@attrs.frozen(eq=False)
class CheckpointContents:
    """Everything an export takes from one checkpoint."""

    ref: CheckpointRef
    spec: ModelSpec
    dense: dict[str, Float32Array]
    tables: dict[str, tuple[Int64Array, Float32Array]]
    backend: ComputeBackend


def locate_checkpoint(fs: FileSystem, path: str) -> CheckpointRef:
    """Resolve a manifest file or a model directory (newest valid) and verify it.

    Raises:
        NotFoundError: ``path`` does not exist.
        NoCheckpointError: the directory holds no valid checkpoint.
        CheckpointError: the named checkpoint does not verify.
    """
    if not fs.exists(path):
        raise NotFoundError(
            f"checkpoint {path} does not exist; pass a model directory or a "
            "checkpoint-<step>.json manifest"
        )
    model_dir, step = resolve_checkpoint(fs, path)
    manager = CheckpointManager(fs, model_dir)
    status = manager.verify(step)
    if not status.valid or status.manifest is None:
        raise CheckpointError(
            f"checkpoint {status.manifest_path} does not verify: {status.problem}"
        )
    return CheckpointRef(model_dir, step, status.manifest_path, status.manifest)


def read_contents(
    fs: FileSystem,
    ref: CheckpointRef,
    make_store: StoreFactory,
    make_backend: BackendFactory,
) -> CheckpointContents:
    """Restore the checkpoint's tables and tower and read them out."""
    if not ref.manifest.model_spec:
        raise CheckpointError(
            f"checkpoint {ref.manifest_path} records no model_spec; export needs it"
        )
    spec = model_spec_from_dict(ref.manifest.model_spec)
    manager = CheckpointManager(fs, ref.model_dir)
    store = make_store(spec)
    try:
        store.create_tables(spec.tables)
        store.restore(join(manager.payload_path(ref.step), TABLES_DIR))
        tables: dict[str, tuple[Int64Array, Float32Array]] = {}
        for config in spec.tables:
            touched = store.touched_since(config.name, -1)
            order = np.argsort(touched.fids, kind="stable")
            tables[config.name] = (
                np.asarray(touched.fids, dtype=np.int64)[order],
                np.asarray(touched.rows, dtype=np.float32)[order].reshape(
                    -1, config.width
                ),
            )
    finally:
        store.close()
    backend = make_backend(ref.manifest.backend)
    backend.build(spec)
    backend.load_state(manager.load_dense(ref.step))
    logger.info(
        "checkpoint read for export step=%d path=%s tables=%d rows=%d",
        ref.step,
        ref.manifest_path,
        len(tables),
        sum(int(f.shape[0]) for f, _ in tables.values()),
    )
    return CheckpointContents(ref, spec, backend.parameters(), tables, backend)
