"""Each sparse optimizer matches a scalar reference implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monolith.domain.embedding.config import (
    InitializerConfig,
    OptimizerConfig,
    TableConfig,
)
from monolith.domain.embedding.initializers import initial_rows
from monolith.domain.embedding.table import EmbeddingTable
from monolith.domain.errors import ConfigError

pytestmark = pytest.mark.unit


def reference(config: OptimizerConfig, w: float, grads: list[float]) -> float:
    """A scalar, step-by-step implementation of the four optimizers."""
    c = config
    acc, m, v, n, z = c.initial_accumulator, 0.0, 0.0, c.initial_accumulator, 0.0
    for t, g in enumerate(grads, start=1):
        if c.kind == "sgd":
            w -= c.learning_rate * g
        elif c.kind == "adagrad":
            acc += g * g
            w -= c.learning_rate * g / math.sqrt(acc)
        elif c.kind == "adam":
            m = c.beta1 * m + (1 - c.beta1) * g
            v = c.beta2 * v + (1 - c.beta2) * g * g
            rate = c.learning_rate * math.sqrt(1 - c.beta2**t) / (1 - c.beta1**t)
            w -= rate * m / (math.sqrt(v) + c.epsilon)
        else:
            n_new = n + g * g
            z += g - (math.sqrt(n_new) - math.sqrt(n)) / c.learning_rate * w
            n = n_new
            if abs(z) <= c.l1:
                w = 0.0
            else:
                sign = 1.0 if z > 0 else -1.0
                w = -(z - sign * c.l1) / (
                    (c.beta + math.sqrt(n)) / c.learning_rate + c.l2
                )
    return w


CONFIGS = [
    OptimizerConfig("sgd", learning_rate=0.1),
    OptimizerConfig("adagrad", learning_rate=0.05, initial_accumulator=0.1),
    OptimizerConfig("adam", learning_rate=0.01, beta1=0.9, beta2=0.99, epsilon=0.01),
    OptimizerConfig("ftrl", learning_rate=0.1, initial_accumulator=0.1, l1=0.01),
    OptimizerConfig("ftrl", learning_rate=0.1, beta=1.0, l1=0.0, l2=0.5),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.kind)
def test_optimizer_matches_the_scalar_reference_over_several_steps(
    config: OptimizerConfig,
) -> None:
    init = InitializerConfig("uniform", 0.5, 3)
    table = EmbeddingTable(TableConfig("t", dim=3, initializer=init, optimizer=config))
    fids = np.array([11, -4])
    grads = np.random.default_rng(0).normal(size=(6, 2, 3)).astype(np.float32)
    start = initial_rows(init, fids, 3)

    table.apply_gradients(fids, np.zeros((2, 3), np.float32), 1, 0)
    for step in range(6):
        table.apply_gradients(fids, grads[step], step + 2, 0)

    got = table.lookup(fids)
    for i in range(2):
        for j in range(3):
            history = [0.0, *(float(g) for g in grads[:, i, j])]
            expected = reference(config, float(start[i, j]), history)
            assert got[i, j] == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_unknown_optimizer_kind_is_a_config_error() -> None:
    config = TableConfig("t", dim=1, optimizer=OptimizerConfig("rmsprop"))  # type: ignore[arg-type]

    with pytest.raises(ConfigError, match="rmsprop"):
        EmbeddingTable(config)
