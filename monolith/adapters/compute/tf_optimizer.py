"""The dense optimizers of :mod:`monolith.domain.dense_optimizer` in TensorFlow."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from monolith.domain import dense_optimizer as rules
from monolith.domain.errors import ComputeError
from monolith.domain.model_spec import DenseOptimizerSpec

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]


class TfDenseOptimizer:
    """sgd / adagrad / adam with global-norm clipping over named variables.

    :meth:`apply` is meant to be called inside a ``tf.function``.
    """

    def __init__(self, spec: DenseOptimizerSpec, params: Mapping[str, tf.Variable]):
        self._spec = spec
        self._slots = rules.optimizer_slots(spec.kind)
        self._names = list(params)
        self._params = [params[n] for n in self._names]
        self._state: dict[str, list[tf.Variable]] = {}
        for slot in self._slots:
            fill = rules.ADAGRAD_INITIAL_ACCUMULATOR if slot == "accumulator" else 0.0
            self._state[slot] = [
                tf.Variable(
                    tf.fill(tf.shape(p), tf.constant(fill, tf.float32)), trainable=False
                )
                for p in self._params
            ]
        self._step = tf.Variable(0, dtype=tf.int64, trainable=False)

    def apply(self, grads: Sequence[tf.Tensor]) -> None:
        """One update with ``grads`` (same order as the parameters)."""
        clip = self._spec.clip_norm
        if clip > 0:
            grads, _ = tf.clip_by_global_norm(list(grads), clip)
        self._step.assign_add(1)
        lr = self._spec.learning_rate
        kind = self._spec.kind
        # sgd and adagrad use TF's fused kernels: one op per variable instead
        # of five, and bit-identical to the rule in dense_optimizer.
        rate = tf.constant(lr, tf.float32)
        if kind == "sgd":
            for p, g in zip(self._params, grads, strict=True):
                tf.raw_ops.ResourceApplyGradientDescent(
                    var=p.handle, alpha=rate, delta=g
                )
        elif kind == "adagrad":
            epsilon = tf.constant(rules.EPSILON, tf.float32)
            for p, g, acc in zip(
                self._params, grads, self._state["accumulator"], strict=True
            ):
                tf.raw_ops.ResourceApplyAdagradV2(
                    var=p.handle, accum=acc.handle, lr=rate, epsilon=epsilon, grad=g
                )
        else:
            b1, b2 = rules.ADAM_BETA1, rules.ADAM_BETA2
            t = tf.cast(self._step, tf.float64)
            c1 = tf.cast(1.0 - tf.pow(tf.constant(b1, tf.float64), t), tf.float32)
            c2 = tf.cast(1.0 - tf.pow(tf.constant(b2, tf.float64), t), tf.float32)
            for p, g, m, v in zip(
                self._params, grads, self._state["m"], self._state["v"], strict=True
            ):
                m.assign(b1 * m + (1.0 - b1) * g)
                v.assign(b2 * v + (1.0 - b2) * g * g)
                p.assign_sub((lr / c1) * m / (tf.sqrt(v / c2) + rules.EPSILON))

    def state(self) -> dict[str, Float32Array]:
        out: dict[str, Float32Array] = {
            rules.STEP_KEY: np.array(int(self._step.numpy()), np.float32)
        }
        for slot, variables in self._state.items():
            for name, variable in zip(self._names, variables, strict=True):
                out[rules.slot_key(slot, name)] = np.array(variable.numpy(), np.float32)
        return out

    def load_state(self, state: Mapping[str, Float32Array]) -> None:
        """Restore slots and step; missing keys are an error."""
        try:
            step = int(round(float(np.asarray(state[rules.STEP_KEY]))))
            values = []
            for slot, variables in self._state.items():
                for name, variable in zip(self._names, variables, strict=True):
                    value = np.asarray(state[rules.slot_key(slot, name)], np.float32)
                    if value.shape != tuple(variable.shape):
                        raise ComputeError(
                            f"optimizer state {rules.slot_key(slot, name)!r} has "
                            f"shape {value.shape}, expected {tuple(variable.shape)}"
                        )
                    values.append((variable, value))
        except KeyError as exc:
            raise ComputeError(
                f"state lacks optimizer entry {exc.args[0]!r} of the "
                f"{self._spec.kind} optimizer"
            ) from exc
        for variable, value in values:
            variable.assign(value)
        self._step.assign(step)
