"""Small numpy stand-ins for a parameter store and a compute backend.

They keep the port semantics the training runtime relies on (lookups never
insert, duplicate gradients summed, snapshot through the storage port, state
round trip) with a logistic model simple enough to check by hand.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence

import numpy as np

from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.embedding.config import OptimizerConfig, TableConfig
from monolith.domain.model_spec import (
    DenseOptimizerSpec,
    ModelSpec,
    SlotSpec,
    TowerSpec,
)
from monolith.ports.compute import StepResult, TowerInputs
from monolith.ports.parameters import TableInfo, TouchedRows
from monolith.ports.storage import FileSystem


def tiny_spec(
    slots: Sequence[str] = ("a", "b"), shared_table: bool = False
) -> ModelSpec:
    tables = (
        (TableConfig("shared", 1, optimizer=OptimizerConfig("sgd", 0.5)),)
        if shared_table
        else tuple(
            TableConfig(f"t_{s}", 1, optimizer=OptimizerConfig("sgd", 0.5))
            for s in slots
        )
    )
    return ModelSpec(
        name="tiny",
        tables=tables,
        slots=tuple(SlotSpec(s, "shared" if shared_table else f"t_{s}") for s in slots),
        dense_features=1,
        tower=TowerSpec("mlp", hidden=()),
        dense_optimizer=DenseOptimizerSpec("sgd", 0.5),
    )


class FakeStore:
    """A dict-of-dicts store; SGD per table; snapshot as one .npy per table."""

    def __init__(self, num_shards: int = 1, fs: FileSystem | None = None) -> None:
        self._num_shards = num_shards
        self.fs = fs
        self.rows: dict[str, dict[int, np.ndarray]] = {}
        self.configs: dict[str, TableConfig] = {}
        self.dense: dict[str, np.ndarray] | None = None
        self.dense_lr = 0.5
        self.applied: list[tuple[str, np.ndarray, int]] = []
        self.looked_up: list[tuple[str, np.ndarray]] = []
        self.closed = False

    @property
    def num_shards(self) -> int:
        return self._num_shards

    def create_tables(self, configs: Sequence[TableConfig]) -> None:
        for config in configs:
            self.configs.setdefault(config.name, config)
            self.rows.setdefault(config.name, {})

    def tables(self) -> list[TableInfo]:
        return [
            TableInfo(name, len(self.rows[name]), self.configs[name].dim)
            for name in sorted(self.rows)
        ]

    def lookup(self, table: str, fids: np.ndarray) -> np.ndarray:
        self.looked_up.append((table, np.array(fids)))
        width = self.configs[table].width
        out = np.zeros((len(fids), width), dtype=np.float32)
        for i, fid in enumerate(fids.tolist()):
            row = self.rows[table].get(fid)
            if row is not None:
                out[i] = row
        return out

    def apply_gradients(self, table, fids, grads, step, timestamp) -> None:
        self.applied.append((table, np.array(fids), step))
        lr = self.configs[table].optimizer.learning_rate
        summed: dict[int, np.ndarray] = {}
        for fid, grad in zip(fids.tolist(), grads, strict=True):
            summed[fid] = summed.get(fid, 0) + grad
        for fid, grad in summed.items():
            row = self.rows[table].setdefault(
                fid, np.zeros(self.configs[table].width, np.float32)
            )
            row -= lr * grad

    def lookup_many(self, fids_by_table: Mapping[str, np.ndarray]) -> dict:
        return {table: self.lookup(table, f) for table, f in fids_by_table.items()}

    def apply_gradients_many(self, updates: Mapping, step, timestamp) -> None:
        for table, (fids, grads) in updates.items():
            self.apply_gradients(table, fids, grads, step, timestamp)

    def init_dense(self, params: Mapping[str, np.ndarray], optimizer) -> None:
        if self.dense is None:
            self.dense = {k: np.array(v) for k, v in params.items()}
            self.dense_lr = optimizer.learning_rate

    def pull_dense(self) -> dict[str, np.ndarray]:
        assert self.dense is not None
        return {k: v.copy() for k, v in self.dense.items()}

    def push_dense_gradients(self, grads: Mapping[str, np.ndarray]) -> None:
        assert self.dense is not None
        for key, grad in grads.items():
            self.dense[key] = self.dense[key] - self.dense_lr * grad

    def snapshot(self, directory: str) -> list[str]:
        assert self.fs is not None
        written = []
        for name, rows in self.rows.items():
            keys = np.array(sorted(rows), dtype=np.int64)
            values = (
                np.stack([rows[k] for k in keys.tolist()])
                if len(keys)
                else (np.zeros((0, self.configs[name].width), np.float32))
            )
            for suffix, array in (("keys", keys), ("values", values)):
                path = f"{directory}/{name}.{suffix}.npy"
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                with self.fs.open(path, "wb") as handle:
                    handle.write(buffer.getvalue())
                written.append(path)
        path = f"{directory}/tables.json"
        with self.fs.open(path, "wb") as handle:
            handle.write(json.dumps(sorted(self.rows)).encode())
        written.append(path)
        return written

    def restore(self, directory: str) -> None:
        assert self.fs is not None
        with self.fs.open(f"{directory}/tables.json", "rb") as handle:
            names = json.loads(handle.read())
        for name in names:
            arrays = []
            for suffix in ("keys", "values"):
                with self.fs.open(f"{directory}/{name}.{suffix}.npy", "rb") as handle:
                    arrays.append(np.load(io.BytesIO(handle.read())))
            self.rows[name] = {
                int(k): v.copy() for k, v in zip(arrays[0], arrays[1], strict=True)
            }

    def touched_since(self, table: str, version: int) -> TouchedRows:
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True


class FakeBackend:
    """Logistic regression: logit = sum of pooled 1-d embeddings + w * dense + b."""

    name = "fake"

    def __init__(self, nan_at_call: int | None = None) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.steps = 0
        self.calls = 0
        self.nan_at_call = nan_at_call
        self.spec: ModelSpec | None = None

    def build(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.params = {
            "head/w": np.zeros((spec.dense_features,), np.float32),
            "head/b": np.zeros((1,), np.float32),
        }
        self.steps = 0

    def _logits(self, inputs: TowerInputs) -> np.ndarray:
        batch = inputs.batch_size
        logits = inputs.dense @ self.params["head/w"] + self.params["head/b"][0]
        for slot in inputs.slots.values():
            owner = np.repeat(np.arange(batch), np.diff(slot.row_splits))
            np.add.at(logits, owner, slot.rows[slot.index, 0])
        return logits.astype(np.float32)

    def predict(self, inputs: TowerInputs) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-self._logits(inputs)))).astype(np.float32)

    def compute_gradients(self, inputs: TowerInputs, labels: np.ndarray) -> StepResult:
        self.calls += 1
        p = self.predict(inputs)
        eps = 1e-7
        loss = float(
            -np.mean(labels * np.log(p + eps) + (1 - labels) * np.log(1 - p + eps))
        )
        if self.nan_at_call is not None and self.calls >= self.nan_at_call:
            loss = float("nan")
        d = (p - labels) / inputs.batch_size
        slot_grads = {}
        for name, slot in inputs.slots.items():
            owner = np.repeat(np.arange(inputs.batch_size), np.diff(slot.row_splits))
            grad = np.zeros_like(slot.rows)
            np.add.at(grad[:, 0], slot.index, d[owner])
            slot_grads[name] = grad
        return StepResult(
            loss=loss,
            predictions=p,
            dense_grads={
                "head/w": (inputs.dense.T @ d).astype(np.float32),
                "head/b": np.array([d.sum()], np.float32),
            },
            slot_grads=slot_grads,
        )

    def apply_dense_gradients(self, grads: Mapping[str, np.ndarray]) -> None:
        for key, grad in grads.items():
            self.params[key] = self.params[key] - 0.5 * grad
        self.steps += 1

    def parameters(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    def load_parameters(self, params: Mapping[str, np.ndarray]) -> None:
        self.params = {k: np.array(v, np.float32) for k, v in params.items()}

    def state(self) -> dict[str, np.ndarray]:
        state = self.parameters()
        state["optimizer/steps"] = np.array([self.steps], np.float32)
        return state

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.params = {
            k: np.array(v, np.float32)
            for k, v in state.items()
            if k.startswith("head/")
        }
        self.steps = int(state["optimizer/steps"][0])


def planted_batches(
    num_batches: int,
    batch_size: int = 64,
    *,
    seed: int = 0,
    slots: Sequence[str] = ("a", "b"),
    vocab: int = 20,
) -> list[Batch]:
    """Batches whose label depends on fid parity in slot ``a`` (learnable)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(num_batches):
        sparse = {}
        parity = None
        for slot in slots:
            fids = rng.integers(0, vocab, size=batch_size).astype(np.int64)
            if parity is None:
                parity = fids % 2
            sparse[slot] = RaggedFids(fids, np.arange(batch_size + 1, dtype=np.int64))
        noise = rng.random(batch_size) < 0.1
        labels = np.where(noise, 1 - parity, parity).astype(np.float32)
        dense = rng.normal(size=(batch_size, 1)).astype(np.float32)
        batches.append(Batch(sparse=sparse, dense=dense, label=labels))
    return batches
