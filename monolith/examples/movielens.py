"""The original demo's MovieLens rating regression (BEHAVIOUR.md §13.7)."""

from __future__ import annotations

import logging
from typing import Any

from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.model_spec import (
    ModelSpec,
    TowerSpec,
)
from monolith.domain.tasks import register_task
from monolith.examples.options import (
    COMMON_SCHEMA,
    as_int,
    as_ints,
    as_pooling,
    dense_optimizer,
    parse_options,
    pooled_tables,
)

logger = logging.getLogger(__name__)


@register_task
class Ranking:
    """Two-id rating regression: movie and user embeddings into an MLP.

    As in the original ``MovieRankingModelBase``: a 32-dim embedding for each
    of ``mov`` and ``uid``, concatenated, Dense(256, relu), Dense(64, relu),
    Dense(1), mean squared error, dense Adagrad(0.05). Any sparse slots of
    the features are used (default features: ``mov``, ``uid``; label
    ``label`` = the rating). Options: as :class:`monolith.examples.ctr.DeepFM`
    with defaults ``dim`` 32, ``hidden`` (256, 64), no bias columns.
    """

    default_features = FeatureSpec(sparse=("mov", "uid"), label="label")
    SCHEMA = {
        **COMMON_SCHEMA,
        "dim": (as_int, 32),
        "hidden": (as_ints, (256, 64)),
        "pooling": (as_pooling, "sum"),
    }

    def build_spec(self, features: FeatureSpec, **options: Any) -> ModelSpec:
        o = parse_options("examples.movielens.Ranking", options, self.SCHEMA)
        tables, slots = pooled_tables(features, o)
        return ModelSpec(
            name="examples.movielens.Ranking",
            tables=tables,
            slots=slots,
            dense_features=len(features.dense),
            tower=TowerSpec("mlp", o["hidden"], o["activation"]),
            loss="mse",
            dense_optimizer=dense_optimizer(o),
            seed=o["seed"],
        )
