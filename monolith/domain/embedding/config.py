"""Per-table configuration of an embedding table (BEHAVIOUR.md §13.1)."""

from __future__ import annotations

from typing import Literal

import attrs

InitializerKind = Literal["zeros", "uniform", "gaussian"]
OptimizerKind = Literal["sgd", "adagrad", "adam", "ftrl"]


@attrs.frozen
class InitializerConfig:
    """How a new row is filled. Deterministic per (seed, fid)."""

    kind: InitializerKind = "uniform"
    scale: float = 0.05
    seed: int = 0


@attrs.frozen
class OptimizerConfig:
    """A sparse optimizer and its hyper-parameters.

    Fields a kind does not use are ignored: ``sgd`` uses ``learning_rate``;
    ``adagrad`` adds ``initial_accumulator``; ``adam`` uses ``beta1``,
    ``beta2`` and ``epsilon``; ``ftrl`` uses ``initial_accumulator``,
    ``beta``, ``l1`` and ``l2``.
    """

    kind: OptimizerKind = "adagrad"
    learning_rate: float = 0.05
    initial_accumulator: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    epsilon: float = 0.01
    beta: float = 0.0
    l1: float = 0.0
    l2: float = 0.0


@attrs.frozen
class TableConfig:
    """One embedding table.

    Attributes:
        name: Unique table name.
        dim: Embedding width (the bias, when ``has_bias``, is one extra column 0).
        initializer: How new rows are initialised.
        optimizer: The table's sparse optimizer.
        occurrence_threshold: A new fid is admitted on its (T+1)-th sighting;
            0 admits on first sight.
        expire_days: Entries idle this many days are dropped when the table is
            saved; 0 means never persisted.
        has_bias: Whether each row carries a leading bias column.
    """

    name: str
    dim: int
    initializer: InitializerConfig = InitializerConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    occurrence_threshold: int = 0
    expire_days: float = 36500.0
    has_bias: bool = False

    @property
    def width(self) -> int:
        """Stored row width: ``dim`` plus one for the bias column."""
        return self.dim + (1 if self.has_bias else 0)
