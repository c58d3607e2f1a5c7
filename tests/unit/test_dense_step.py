"""The numpy dense optimizer a parameter server runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monolith.domain import dense_optimizer as rules
from monolith.domain.dense_step import DenseOptimizer
from monolith.domain.errors import ComputeError, UsageError
from monolith.domain.model_spec import DenseOptimizerSpec

pytestmark = pytest.mark.unit


def test_adagrad_follows_the_shared_rule() -> None:
    opt = DenseOptimizer({"w": np.array([1.0])}, DenseOptimizerSpec("adagrad", 0.1))

    opt.apply({"w": np.array([0.5])})

    acc = rules.ADAGRAD_INITIAL_ACCUMULATOR + 0.25
    expected = 1.0 - 0.1 * 0.5 / (math.sqrt(acc) + rules.EPSILON)
    assert opt.params["w"][0] == pytest.approx(expected, rel=1e-6)


def test_adam_uses_bias_correction_by_step() -> None:
    opt = DenseOptimizer({"w": np.zeros(1)}, DenseOptimizerSpec("adam", 0.01))

    opt.apply({"w": np.array([2.0])})

    # After one step m_hat = g and v_hat = g**2, so the step is lr * sign(g).
    assert opt.params["w"][0] == pytest.approx(-0.01, rel=1e-4)
    assert opt.state_arrays()[rules.STEP_KEY] == 1


def test_gradients_above_the_clip_norm_are_scaled_down() -> None:
    opt = DenseOptimizer(
        {"a": np.zeros(1), "b": np.zeros(1)}, DenseOptimizerSpec("sgd", 1.0, 1.0)
    )

    opt.apply({"a": np.array([3.0]), "b": np.array([4.0])})

    assert opt.params["a"][0] == pytest.approx(-0.6)
    assert opt.params["b"][0] == pytest.approx(-0.8)


def test_state_round_trips_through_state_arrays() -> None:
    spec = DenseOptimizerSpec("adam", 0.01)
    first = DenseOptimizer({"w": np.ones(3)}, spec)
    first.apply({"w": np.ones(3)})
    second = DenseOptimizer({"w": np.zeros(3)}, spec)

    second.load_state(first.state_arrays())
    first.apply({"w": np.ones(3)})
    second.apply({"w": np.ones(3)})

    assert np.array_equal(first.params["w"], second.params["w"])


def test_a_gradient_for_an_unknown_parameter_is_refused() -> None:
    opt = DenseOptimizer({"w": np.zeros(2)}, DenseOptimizerSpec("sgd"))

    with pytest.raises(UsageError, match="'v'"):
        opt.apply({"v": np.zeros(2)})
    with pytest.raises(UsageError, match=r"shape \(3,\)"):
        opt.apply({"w": np.zeros(3)})


def test_an_unknown_optimizer_kind_is_refused() -> None:
    with pytest.raises(ComputeError, match="rmsprop"):
        DenseOptimizer({"w": np.zeros(1)}, DenseOptimizerSpec("rmsprop"))
