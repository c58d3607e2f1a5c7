"""A backend-neutral description of a model: its slots, tables and dense tower.

A task (see ``monolith.examples``) produces a :class:`ModelSpec`; the worker
uses the slot and table parts to look up embeddings, and a compute backend
builds the dense tower from the tower part. Nothing here names torch or TF.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from monolith.domain.embedding.config import (
    InitializerConfig,
    OptimizerConfig,
    TableConfig,
)
from monolith.domain.errors import ConfigError

Pooling = Literal["sum", "mean", "sequence"]
Loss = Literal["bce", "mse"]


@attrs.frozen
class SlotSpec:
    """One sparse feature: which table it reads and how its fids are combined.

    ``pooling`` is ``sum`` or ``mean`` over the slot's fids, or ``sequence``:
    the fids stay in order, padded to ``max_len`` with a mask.
    """

    name: str
    table: str
    pooling: Pooling = "sum"
    max_len: int = 0


@attrs.frozen
class TowerSpec:
    """The dense tower. ``kind`` names an architecture the backends know.

    Known kinds: ``mlp`` (concat of pooled slots and dense features into an
    MLP), ``deepfm`` (FM over pooled slots plus an MLP), ``din`` (target
    attention over a sequence slot), ``dien`` (GRU/AUGRU interest evolution).
    ``options`` holds kind-specific settings: ``target_slot``,
    ``sequence_slot`` and ``attention_hidden`` for din/dien, plus
    ``gru_hidden`` and ``evolution`` (``augru`` or ``gru``) for dien. Values
    must be JSON-safe (see :func:`model_spec_to_dict`). Activations: relu,
    tanh, sigmoid, gelu, linear. :mod:`monolith.domain.tower_plan` checks
    all of this.
    """

    kind: str
    hidden: tuple[int, ...] = (64, 32)
    activation: str = "relu"
    options: tuple[tuple[str, object], ...] = ()

    def option(self, key: str, default: object = None) -> object:
        return dict(self.options).get(key, default)


@attrs.frozen
class DenseOptimizerSpec:
    """The optimizer of the dense parameters: ``sgd``, ``adagrad`` or ``adam``."""

    kind: str = "adagrad"
    learning_rate: float = 0.05
    clip_norm: float = 1000.0


@attrs.frozen
class ModelSpec:
    """Everything needed to train a model, independent of the backend."""

    name: str
    tables: tuple[TableConfig, ...]
    slots: tuple[SlotSpec, ...]
    dense_features: int
    tower: TowerSpec
    loss: Loss = "bce"
    dense_optimizer: DenseOptimizerSpec = DenseOptimizerSpec()
    seed: int = 0

    def table(self, name: str) -> TableConfig:
        for table in self.tables:
            if table.name == name:
                return table
        known = ", ".join(t.name for t in self.tables)
        raise KeyError(f"unknown table {name!r}; known tables: {known}")

    def slot_dim(self, slot: SlotSpec) -> int:
        return self.table(slot.table).dim


def model_spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    """A JSON-safe dict of ``spec``; :func:`model_spec_from_dict` inverts it.

    Raises:
        ConfigError: a tower option holds a value JSON cannot carry (only
            str, int, float, bool, None and lists/tuples of them are allowed).
    """
    for key, value in spec.tower.options:
        if not _json_safe(value):
            raise ConfigError(
                f"tower option {key!r}={value!r} of model {spec.name!r} is not "
                "JSON-safe: use str, int, float, bool, None or a list of them"
            )
    return {
        "name": spec.name,
        "tables": [attrs.asdict(table) for table in spec.tables],
        "slots": [attrs.asdict(slot) for slot in spec.slots],
        "dense_features": spec.dense_features,
        "tower": {
            "kind": spec.tower.kind,
            "hidden": list(spec.tower.hidden),
            "activation": spec.tower.activation,
            "options": {key: _to_json(value) for key, value in spec.tower.options},
        },
        "loss": spec.loss,
        "dense_optimizer": attrs.asdict(spec.dense_optimizer),
        "seed": spec.seed,
    }


def model_spec_from_dict(data: Mapping[str, Any]) -> ModelSpec:
    """Rebuild a :class:`ModelSpec` from :func:`model_spec_to_dict` output.

    JSON lists come back as tuples, so ``from_dict(to_dict(s)) == s``.

    Raises:
        ConfigError: a key is missing or a value has the wrong type.
    """
    try:
        tower = data["tower"]
        return ModelSpec(
            name=str(data["name"]),
            tables=tuple(_table_from_dict(t) for t in data["tables"]),
            slots=tuple(SlotSpec(**dict(s)) for s in data["slots"]),
            dense_features=int(data["dense_features"]),
            tower=TowerSpec(
                kind=str(tower["kind"]),
                hidden=tuple(int(h) for h in tower.get("hidden", (64, 32))),
                activation=str(tower.get("activation", "relu")),
                options=tuple(
                    (str(key), _from_json(value))
                    for key, value in dict(tower.get("options", {})).items()
                ),
            ),
            loss=data.get("loss", "bce"),
            dense_optimizer=DenseOptimizerSpec(**dict(data.get("dense_optimizer", {}))),
            seed=int(data.get("seed", 0)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"model spec dict is malformed ({exc}): expected the keys written by "
            "model_spec_to_dict (name, tables, slots, dense_features, tower, ...)"
        ) from exc


def _table_from_dict(data: Mapping[str, Any]) -> TableConfig:
    fields = dict(data)
    fields["initializer"] = InitializerConfig(**dict(fields.get("initializer", {})))
    fields["optimizer"] = OptimizerConfig(**dict(fields.get("optimizer", {})))
    return TableConfig(**fields)


def _json_safe(value: object) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_json_safe(item) for item in value)
    return False


def _to_json(value: object) -> object:
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    return value


def _from_json(value: object) -> object:
    if isinstance(value, list | tuple):
        return tuple(_from_json(item) for item in value)
    return value
