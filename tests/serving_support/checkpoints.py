"""Build a small real checkpoint with the real writer, store and backend."""

from __future__ import annotations

import numpy as np

from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.storage.local import LocalFileSystem
from monolith.app.checkpoints import CheckpointManager
from monolith.app.serving.backends import make_compute
from monolith.domain.embedding.config import TableConfig
from monolith.domain.model_spec import (
    ModelSpec,
    SlotSpec,
    TowerSpec,
    model_spec_to_dict,
)


def tiny_spec(dim: int = 8, dense: int = 3) -> ModelSpec:
    return ModelSpec(
        name="tiny",
        tables=(TableConfig("user", dim), TableConfig("item", dim)),
        slots=(
            SlotSpec("user_id", "user"),
            SlotSpec("item_id", "item"),
        ),
        dense_features=dense,
        tower=TowerSpec("mlp", hidden=(16, 8)),
        loss="bce",
        seed=3,
    )


def write_checkpoint(
    model_dir: str,
    step: int = 10,
    *,
    backend: str = "torch",
    spec: ModelSpec | None = None,
    fids_per_table: int = 200,
    scale: float = 1.0,
    seed: int = 0,
) -> ModelSpec:
    """Train-like state: rows set by gradients, saved by CheckpointManager."""
    spec = spec if spec is not None else tiny_spec()
    fs = LocalFileSystem()
    store = LocalParameterStore(num_shards=2, fs=fs)
    store.create_tables(spec.tables)
    rng = np.random.default_rng(seed)
    for config in spec.tables:
        fids = np.arange(fids_per_table, dtype=np.int64) * 7 - 50
        grads = rng.normal(scale=scale, size=(fids.shape[0], config.width))
        store.apply_gradients(config.name, fids, grads.astype(np.float32), 1, 1.0)
    compute = make_compute(backend)
    compute.build(spec)
    CheckpointManager(fs, model_dir).save(
        step,
        store,
        compute,
        task="tests.tiny",
        model_spec=model_spec_to_dict(spec),
    )
    store.close()
    return spec
