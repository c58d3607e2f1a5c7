"""Sparse optimizers: SGD, Adagrad, Adam and FTRL over gathered rows.

Each optimizer updates a block of rows in place: ``weights[k, width]`` and its
``state[k, state_columns]`` (already gathered from the table), given the summed
gradients of those rows. Rows are distinct, so the table scatters the block
back with plain fancy assignment.

Formulas (``g`` the gradient, all elementwise):

* SGD: ``w -= lr * g``.
* Adagrad: ``a += g**2; w -= lr * g / sqrt(a)``; ``a`` starts at
  ``initial_accumulator``.
* Adam: ``m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g**2;
  w -= lr * sqrt(1-b2**t)/(1-b1**t) * m / (sqrt(v) + eps)`` with ``t`` the
  global step (at least 1).
* FTRL-proximal (McMahan et al. 2013): ``n' = n + g**2;
  z += g - (sqrt(n') - sqrt(n)) / lr * w; n = n'``; then ``w = 0`` where
  ``|z| <= l1``, else ``w = -(z - sign(z)*l1) / ((beta + sqrt(n)) / lr + l2)``.
  ``n`` starts at ``initial_accumulator``, ``z`` at 0.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from monolith.domain.embedding.config import OptimizerConfig
from monolith.domain.errors import ConfigError

Float32Array = npt.NDArray[np.float32]


class SparseOptimizer:
    """Base of the sparse optimizers; subclasses override the three methods."""

    def __init__(self, config: OptimizerConfig) -> None:
        self.config = config

    def state_columns(self, width: int) -> int:
        """Optimizer-state floats stored per row of ``width`` weights."""
        return 0

    def initial_state(self, count: int, width: int) -> Float32Array:
        """State of ``count`` new rows."""
        return np.zeros((count, self.state_columns(width)), dtype=np.float32)

    def update(
        self, weights: Float32Array, state: Float32Array, grads: Float32Array, step: int
    ) -> None:
        """Apply one step to ``weights`` and ``state`` in place."""
        raise NotImplementedError


class Sgd(SparseOptimizer):
    """Plain stochastic gradient descent; no state."""

    def update(
        self, weights: Float32Array, state: Float32Array, grads: Float32Array, step: int
    ) -> None:
        weights -= np.float32(self.config.learning_rate) * grads


class Adagrad(SparseOptimizer):
    """Adagrad with one accumulator per weight."""

    def state_columns(self, width: int) -> int:
        return width

    def initial_state(self, count: int, width: int) -> Float32Array:
        return np.full((count, width), self.config.initial_accumulator, np.float32)

    def update(
        self, weights: Float32Array, state: Float32Array, grads: Float32Array, step: int
    ) -> None:
        state += grads * grads
        weights -= np.float32(self.config.learning_rate) * grads / np.sqrt(state)


class Adam(SparseOptimizer):
    """Adam with bias correction by the global step; state ``[m | v]``."""

    def state_columns(self, width: int) -> int:
        return 2 * width

    def update(
        self, weights: Float32Array, state: Float32Array, grads: Float32Array, step: int
    ) -> None:
        c = self.config
        width = weights.shape[1]
        m = state[:, :width]
        v = state[:, width:]
        t = max(step, 1)
        m *= np.float32(c.beta1)
        m += np.float32(1.0 - c.beta1) * grads
        v *= np.float32(c.beta2)
        v += np.float32(1.0 - c.beta2) * grads * grads
        rate = c.learning_rate * math.sqrt(1.0 - c.beta2**t) / (1.0 - c.beta1**t)
        weights -= np.float32(rate) * m / (np.sqrt(v) + np.float32(c.epsilon))


class Ftrl(SparseOptimizer):
    """FTRL-proximal; state ``[n | z]``; the weights follow from ``z`` and ``n``."""

    def state_columns(self, width: int) -> int:
        return 2 * width

    def initial_state(self, count: int, width: int) -> Float32Array:
        state = np.zeros((count, 2 * width), dtype=np.float32)
        state[:, :width] = self.config.initial_accumulator
        return state

    def update(
        self, weights: Float32Array, state: Float32Array, grads: Float32Array, step: int
    ) -> None:
        c = self.config
        width = weights.shape[1]
        n = state[:, :width]
        z = state[:, width:]
        lr = np.float32(c.learning_rate)
        n_new = n + grads * grads
        sigma = (np.sqrt(n_new) - np.sqrt(n)) / lr
        z += grads - sigma * weights
        n[...] = n_new
        denominator = (np.float32(c.beta) + np.sqrt(n)) / lr + np.float32(c.l2)
        shrunk = -(z - np.sign(z) * np.float32(c.l1)) / denominator
        weights[...] = np.where(np.abs(z) <= np.float32(c.l1), np.float32(0), shrunk)


_KINDS: dict[str, type[SparseOptimizer]] = {
    "sgd": Sgd,
    "adagrad": Adagrad,
    "adam": Adam,
    "ftrl": Ftrl,
}


def make_optimizer(config: OptimizerConfig) -> SparseOptimizer:
    """The optimizer for ``config``.

    Raises:
        ConfigError: For an unknown kind.
    """
    try:
        return _KINDS[config.kind](config)
    except KeyError:
        known = ", ".join(sorted(_KINDS))
        raise ConfigError(
            f"optimizer kind {config.kind!r} is unknown; expected one of {known}"
        ) from None
