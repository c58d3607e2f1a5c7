"""The numpy inference tower matches the torch backend on built-in towers."""

from __future__ import annotations

import numpy as np
import pytest

from monolith.domain.batch import RaggedFids
from monolith.domain.embedding.config import TableConfig
from monolith.domain.inference_tower import pool, supports, tower_scores
from monolith.domain.model_spec import ModelSpec, SlotSpec, TowerSpec
from monolith.domain.tower_plan import plan_tower

pytestmark = pytest.mark.unit


def test_sum_pooling_handles_empty_examples() -> None:
    rows = np.arange(6, dtype=np.float32).reshape(3, 2)
    splits = np.array([0, 2, 2, 3])

    pooled = pool(rows, splits, "sum")

    np.testing.assert_allclose(pooled, [[2, 4], [0, 0], [4, 5]])


def test_mean_pooling_divides_by_the_fid_count() -> None:
    rows = np.array([[2, 4], [4, 8]], dtype=np.float32)

    pooled = pool(rows, np.array([0, 2]), "mean")

    np.testing.assert_allclose(pooled, [[3, 6]])


def test_sequence_towers_are_not_supported() -> None:
    spec = ModelSpec(
        name="din",
        tables=(TableConfig("t", 4),),
        slots=(SlotSpec("hist", "t", "sequence", 5), SlotSpec("item", "t")),
        dense_features=0,
        tower=TowerSpec(
            "din", options=(("target_slot", "item"), ("sequence_slot", "hist"))
        ),
    )

    assert not supports(plan_tower(spec))


@pytest.mark.parametrize(
    ("kind", "activation", "bias", "loss"),
    [
        ("mlp", "relu", False, "bce"),
        ("mlp", "tanh", True, "mse"),
        ("deepfm", "relu", True, "bce"),
    ],
)
def test_scores_match_the_torch_backend(
    kind: str, activation: str, bias: bool, loss: str
) -> None:
    torch_compute = pytest.importorskip("monolith.adapters.compute.torch_compute")
    from monolith.ports.compute import SlotInput, TowerInputs

    spec = ModelSpec(
        name="m",
        tables=(TableConfig("u", 4, has_bias=bias), TableConfig("i", 4, has_bias=bias)),
        slots=(SlotSpec("u", "u"), SlotSpec("i", "i", "mean")),
        dense_features=3,
        tower=TowerSpec(kind, hidden=(8, 4), activation=activation),
        loss=loss,  # type: ignore[arg-type]
        seed=7,
    )
    backend = torch_compute.TorchCompute()
    backend.build(spec)
    rng = np.random.default_rng(0)
    width = 5 if bias else 4
    ragged = {
        "u": RaggedFids.from_lists([[1, 2], [3], []]),
        "i": RaggedFids.from_lists([[4], [5, 6, 7], [8]]),
    }
    rows = {
        name: rng.normal(size=(r.values.shape[0], width)).astype(np.float32)
        for name, r in ragged.items()
    }
    dense = rng.normal(size=(3, 3)).astype(np.float32)
    inputs = TowerInputs(
        slots={
            name: SlotInput(
                rows[name],
                np.arange(r.values.shape[0], dtype=np.int64),
                r.row_splits,
            )
            for name, r in ragged.items()
        },
        dense=dense,
    )

    expected = backend.predict(inputs)
    pooled = {
        slot.name: pool(rows[slot.name], ragged[slot.name].row_splits, slot.pooling)
        for slot in spec.slots
    }
    got = tower_scores(plan_tower(spec), backend.parameters(), pooled, dense, loss)

    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
