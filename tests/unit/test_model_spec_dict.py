from __future__ import annotations

import json

import pytest

from monolith.domain.embedding.config import OptimizerConfig, TableConfig
from monolith.domain.errors import ConfigError
from monolith.domain.model_spec import (
    DenseOptimizerSpec,
    ModelSpec,
    SlotSpec,
    TowerSpec,
    model_spec_from_dict,
    model_spec_to_dict,
)

pytestmark = pytest.mark.unit


def _spec() -> ModelSpec:
    return ModelSpec(
        name="m",
        tables=(
            TableConfig("items", 16, has_bias=True),
            TableConfig("users", 8, optimizer=OptimizerConfig(kind="ftrl", l1=0.1)),
        ),
        slots=(
            SlotSpec("item", "items"),
            SlotSpec("hist", "items", pooling="sequence", max_len=20),
            SlotSpec("user", "users", pooling="mean"),
        ),
        dense_features=3,
        tower=TowerSpec(
            "dien",
            (64, 32),
            "tanh",
            (("target_slot", "item"), ("attention_hidden", (16, 8)), ("gru_hidden", 7)),
        ),
        loss="mse",
        dense_optimizer=DenseOptimizerSpec("adam", 0.01, 5.0),
        seed=3,
    )


def test_a_spec_survives_a_json_round_trip_unchanged() -> None:
    spec = _spec()

    text = json.dumps(model_spec_to_dict(spec))

    assert model_spec_from_dict(json.loads(text)) == spec


def test_a_tower_option_json_cannot_carry_is_refused_by_name() -> None:
    spec = ModelSpec("m", (), (), 0, TowerSpec("mlp", options=(("bad", object()),)))

    with pytest.raises(ConfigError, match="tower option 'bad'"):
        model_spec_to_dict(spec)


def test_a_malformed_dict_is_a_config_error() -> None:
    data = model_spec_to_dict(_spec())
    del data["tower"]

    with pytest.raises(ConfigError, match="model spec dict is malformed"):
        model_spec_from_dict(data)
