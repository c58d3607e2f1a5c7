"""A backend-neutral description of a model: its slots, tables and dense tower.

A task (see ``monolith.examples``) produces a :class:`ModelSpec`; the worker
uses the slot and table parts to look up embeddings, and a compute backend
builds the dense tower from the tower part. Nothing here names torch or TF.
"""

from __future__ import annotations

from typing import Literal

import attrs

from monolith.domain.embedding.config import TableConfig

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
    ``options`` holds kind-specific settings (e.g. ``target_slot``,
    ``sequence_slot``, ``gru_hidden``).
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
