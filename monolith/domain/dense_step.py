"""The dense optimizers of :mod:`monolith.domain.dense_optimizer` in numpy.

Used by parameter servers that hold dense parameters (async PS training): the
workers push gradients, the PS runs the step. The rules and the state keys are
those of :mod:`monolith.domain.dense_optimizer`, so a state saved here loads
into a compute backend and back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from monolith.domain import dense_optimizer as rules
from monolith.domain.errors import UsageError
from monolith.domain.model_spec import DenseOptimizerSpec

Float32Array = npt.NDArray[np.float32]


class DenseOptimizer:
    """Dense parameters plus their optimizer state, updated in place.

    Not thread-safe: the parameter store serialises calls.
    """

    def __init__(
        self, params: Mapping[str, npt.ArrayLike], spec: DenseOptimizerSpec
    ) -> None:
        self.spec = spec
        self._slots = rules.optimizer_slots(spec.kind)
        rules.check_parameter_names(list(params))
        self.params = {
            name: np.array(value, dtype=np.float32) for name, value in params.items()
        }
        start = rules.ADAGRAD_INITIAL_ACCUMULATOR if spec.kind == "adagrad" else 0.0
        self.state = {
            rules.slot_key(slot, name): np.full_like(value, start)
            for slot in self._slots
            for name, value in self.params.items()
        }
        self.step = 0

    def apply(self, grads: Mapping[str, npt.ArrayLike]) -> None:
        """Clip by global norm, then run one step.

        Raises:
            UsageError: A gradient names an unknown parameter or has the wrong
                shape.
        """
        arrays = {}
        for name, grad in grads.items():
            if name not in self.params:
                known = ", ".join(sorted(self.params))
                raise UsageError(
                    f"dense gradient {name!r} names no parameter; known: {known}"
                )
            array = np.asarray(grad, dtype=np.float32)
            if array.shape != self.params[name].shape:
                raise UsageError(
                    f"dense gradient {name!r} has shape {array.shape}, "
                    f"expected {self.params[name].shape}"
                )
            arrays[name] = array
        norm = math.sqrt(
            sum(float(np.sum(g.astype(np.float64) ** 2)) for g in arrays.values())
        )
        if self.spec.clip_norm > 0 and norm > self.spec.clip_norm:
            scale = np.float32(self.spec.clip_norm / norm)
            arrays = {name: g * scale for name, g in arrays.items()}
        self.step += 1
        lr = np.float32(self.spec.learning_rate)
        eps = np.float32(rules.EPSILON)
        for name, g in arrays.items():
            p = self.params[name]
            if self.spec.kind == "sgd":
                p -= lr * g
            elif self.spec.kind == "adagrad":
                acc = self.state[rules.slot_key("accumulator", name)]
                acc += g * g
                p -= lr * g / (np.sqrt(acc) + eps)
            else:
                m = self.state[rules.slot_key("m", name)]
                v = self.state[rules.slot_key("v", name)]
                b1, b2 = rules.ADAM_BETA1, rules.ADAM_BETA2
                m *= np.float32(b1)
                m += np.float32(1 - b1) * g
                v *= np.float32(b2)
                v += np.float32(1 - b2) * g * g
                m_hat = m / np.float32(1 - b1**self.step)
                v_hat = v / np.float32(1 - b2**self.step)
                p -= lr * m_hat / (np.sqrt(v_hat) + eps)

    def state_arrays(self) -> dict[str, Float32Array]:
        """Parameters, optimizer slots and the step, keyed as the backends key them."""
        out = {name: value.copy() for name, value in self.params.items()}
        out.update({key: value.copy() for key, value in self.state.items()})
        out[rules.STEP_KEY] = np.array(self.step, dtype=np.float32)
        return out

    def load_state(self, arrays: Mapping[str, npt.ArrayLike]) -> None:
        """Replace parameters and state from :meth:`state_arrays` output."""
        for name in self.params:
            if name in arrays:
                self.params[name] = np.array(arrays[name], dtype=np.float32)
        for key in self.state:
            if key in arrays:
                self.state[key] = np.array(arrays[key], dtype=np.float32)
        if rules.STEP_KEY in arrays:
            self.step = int(np.asarray(arrays[rules.STEP_KEY]))
