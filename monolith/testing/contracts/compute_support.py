"""Specs, inputs and float64 reference rules shared by the compute contract."""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain import dense_optimizer as rules
from monolith.domain.embedding.config import TableConfig
from monolith.domain.model_spec import (
    DenseOptimizerSpec,
    ModelSpec,
    SlotSpec,
    TowerSpec,
)
from monolith.ports.compute import SlotInput, TowerInputs

Float32Array = npt.NDArray[np.float32]

KINDS = ("mlp", "deepfm", "din", "dien", "dien-gru")


def contract_spec(kind: str, **changes: object) -> ModelSpec:
    """A small spec of tower ``kind`` exercising bias, mean and sequence slots.

    ``dien`` uses ``gru_hidden=5`` (different from the dim 4) and AUGRU;
    ``dien-gru`` uses the plain GRU evolution.
    """
    options: tuple[tuple[str, object], ...] = ()
    tower_kind = kind
    if kind in ("din", "dien", "dien-gru"):
        options = (("target_slot", "item"), ("sequence_slot", "history"))
    if kind.startswith("dien"):
        tower_kind = "dien"
        evolution = "gru" if kind == "dien-gru" else "augru"
        options += (
            ("gru_hidden", 5),
            ("evolution", evolution),
            ("attention_hidden", (6,)),
        )
    spec = ModelSpec(
        name=f"contract-{kind}",
        tables=(TableConfig("items", 4, has_bias=True), TableConfig("users", 4)),
        slots=(
            SlotSpec("item", "items"),
            SlotSpec("user", "users", pooling="mean"),
            SlotSpec("history", "items", pooling="sequence", max_len=3),
        ),
        dense_features=2,
        tower=TowerSpec(tower_kind, (8, 6), "tanh", options),
        dense_optimizer=DenseOptimizerSpec("adagrad", 0.05, 1000.0),
        seed=7,
    )
    return attrs.evolve(spec, **changes)  # type: ignore[arg-type]


def labels_for(batch: int, seed: int = 1) -> Float32Array:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, size=batch).astype(np.float32)


def with_rows(inputs: TowerInputs, rows: dict[str, Float32Array]) -> TowerInputs:
    slots = {
        name: SlotInput(rows[name], s.index, s.row_splits)
        for name, s in inputs.slots.items()
    }
    return TowerInputs(slots, inputs.dense)


def reference_updates(
    kind: str,
    lr: float,
    params: dict[str, Float32Array],
    steps: list[dict[str, Float32Array]],
) -> dict[str, npt.NDArray[np.float64]]:
    """The update rules of :mod:`monolith.domain.dense_optimizer` in float64."""
    out = {n: p.astype(np.float64) for n, p in params.items()}
    acc = {
        n: np.full(p.shape, rules.ADAGRAD_INITIAL_ACCUMULATOR)
        for n, p in params.items()
    }
    m = {n: np.zeros(p.shape) for n, p in params.items()}
    v = {n: np.zeros(p.shape) for n, p in params.items()}
    b1, b2 = rules.ADAM_BETA1, rules.ADAM_BETA2
    for t, grads in enumerate(steps, start=1):
        for n, g64 in grads.items():
            g = g64.astype(np.float64)
            if kind == "sgd":
                out[n] -= lr * g
            elif kind == "adagrad":
                acc[n] += g * g
                out[n] -= lr * g / (np.sqrt(acc[n]) + rules.EPSILON)
            else:
                m[n] = b1 * m[n] + (1 - b1) * g
                v[n] = b2 * v[n] + (1 - b2) * g * g
                m_hat = m[n] / (1 - b1**t)
                v_hat = v[n] / (1 - b2**t)
                out[n] -= lr * m_hat / (np.sqrt(v_hat) + rules.EPSILON)
    return out
