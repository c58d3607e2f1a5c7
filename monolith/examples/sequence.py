"""Behaviour-sequence models: DIN and DIEN (target attention over a history).

The features need a target slot (the candidate item, pooled) and a sequence
slot (the user's history, in order). By default both read one ``item``
table, as in the DIN and DIEN papers; other sparse slots are pooled and
concatenated into the MLP input.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from monolith.domain.errors import ConfigError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.model_spec import (
    ModelSpec,
    SlotSpec,
    TowerSpec,
)
from monolith.domain.tasks import register_task
from monolith.examples.options import (
    COMMON_SCHEMA,
    Coercer,
    as_bool,
    as_float,
    as_int,
    as_ints,
    as_pooling,
    as_str,
    dense_optimizer,
    parse_options,
    pooling_of,
    table,
)

logger = logging.getLogger(__name__)

SEQUENCE_SCHEMA: dict[str, tuple[Coercer, object]] = {
    **COMMON_SCHEMA,
    "hidden": (as_ints, (200, 80)),
    "attention_hidden": (as_ints, (80, 40)),
    "target_slot": (as_str, "item"),
    "sequence_slot": (as_str, "history"),
    "max_len": (as_int, 20),
    "pooling": (as_pooling, "sum"),
    "share_table": (as_bool, True),
    "dense_optimizer": (as_str, "adam"),
    "learning_rate": (as_float, 0.003),
}
DIEN_SCHEMA: dict[str, tuple[Coercer, object]] = {
    **SEQUENCE_SCHEMA,
    "gru_hidden": (as_int, 0),
    "evolution": (as_str, "augru"),
}


def build_sequence_spec(
    task: str, kind: str, features: FeatureSpec, o: Mapping[str, Any]
) -> ModelSpec:
    """The DIN/DIEN spec for ``features`` from parsed options ``o``.

    Raises:
        ConfigError: the target or sequence slot is not among the features.
    """
    target, sequence = o["target_slot"], o["sequence_slot"]
    missing = [s for s in (target, sequence) if s not in features.sparse]
    if missing or target == sequence:
        raise ConfigError(
            f"task {task} needs distinct target_slot {target!r} and sequence_slot "
            f"{sequence!r} among the sparse features "
            f"({', '.join(features.sparse)}); set them with --set"
        )
    table_of = {s: s for s in features.sparse}
    if o["share_table"]:
        table_of[sequence] = target
    dim = o["dim"]
    tables = tuple(
        table(name, dim, o["table_optimizer"], o["table_learning_rate"])
        for name in dict.fromkeys(table_of.values())
    )
    slots = tuple(
        SlotSpec(s, table_of[s], "sequence", o["max_len"])
        if s == sequence
        else SlotSpec(s, table_of[s], pooling_of(o["pooling"], s))
        for s in features.sparse
    )
    tower_options: list[tuple[str, object]] = [
        ("target_slot", target),
        ("sequence_slot", sequence),
        ("attention_hidden", o["attention_hidden"]),
    ]
    if kind == "dien":
        tower_options.append(("gru_hidden", o["gru_hidden"] or dim))
        tower_options.append(("evolution", o["evolution"]))
    return ModelSpec(
        name=task,
        tables=tables,
        slots=slots,
        dense_features=len(features.dense),
        tower=TowerSpec(kind, o["hidden"], o["activation"], tuple(tower_options)),
        loss="bce",
        dense_optimizer=dense_optimizer(o),
        seed=o["seed"],
    )


@register_task
class DIN:
    """Deep Interest Network: softmax target attention over the history.

    Options: ``target_slot`` (item), ``sequence_slot`` (history), ``max_len``
    (20; longer histories keep their most recent fids), ``attention_hidden``
    (80, 40), ``hidden`` (200, 80), ``share_table`` (true), ``dim`` (16),
    ``pooling`` of the other slots (sum), ``dense_optimizer`` (adam) with
    ``learning_rate`` (0.003; attention and GRU towers learn slowly with
    Adagrad from small initial embeddings), plus the common table options of
    :class:`monolith.examples.ctr.DeepFM`.
    """

    default_features = FeatureSpec(sparse=("user", "item", "history"))
    SCHEMA = SEQUENCE_SCHEMA

    def build_spec(self, features: FeatureSpec, **options: Any) -> ModelSpec:
        o = parse_options("examples.sequence.DIN", options, self.SCHEMA)
        return build_sequence_spec("examples.sequence.DIN", "din", features, o)


@register_task
class DIEN:
    """Deep Interest Evolution Network: GRU over the history, then AUGRU.

    Options: those of :class:`DIN` plus ``gru_hidden`` (0 = ``dim``; any size
    works, the target is projected to it) and ``evolution`` (``augru``, or
    ``gru`` for attention pooling of the GRU states). The auxiliary
    next-click loss of the paper is not used.
    """

    default_features = FeatureSpec(sparse=("user", "item", "history"))
    SCHEMA = DIEN_SCHEMA

    def build_spec(self, features: FeatureSpec, **options: Any) -> ModelSpec:
        o = parse_options("examples.sequence.DIEN", options, self.SCHEMA)
        return build_sequence_spec("examples.sequence.DIEN", "dien", features, o)
