"""The TensorFlow compute backend (``--backend tf``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from monolith.adapters.compute.tf_inputs import SEQUENCE_ARITY, FlatLayout
from monolith.adapters.compute.tf_optimizer import TfDenseOptimizer
from monolith.adapters.compute.tf_pooling import grid_features, pool_group
from monolith.adapters.compute.tf_tower import (
    fits_grid,
    grid_tower_logits,
    pad_slot,
    tower_logits,
)
from monolith.domain import dense_optimizer as rules
from monolith.domain.errors import ComputeError
from monolith.domain.model_spec import ModelSpec
from monolith.domain.tower_init import init_tower_parameters
from monolith.domain.tower_plan import (
    MASK_SUFFIX,
    TowerPlan,
    plan_slots,
    plan_tower,
)
from monolith.ports.compute import StepResult, TowerInputs

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]
ModelFactory = Callable[[ModelSpec], Any]
"""Builds a custom tower ``model(features, dense) -> logits``; see docs/compute.md."""


class TfCompute:
    """Dense tower on TensorFlow 2 (CPU): ``tf.function`` plus ``GradientTape``.

    Each slot's unique rows enter as a tensor the tape watches; pooled slots
    use ``tf.gather`` + ``tf.math.unsorted_segment_sum`` over the segment ids
    of ``row_splits`` and sequence slots ``tf.scatter_nd`` into a padded grid.
    The gradient of a slot is the dense ``[U, w]`` sum per unique row. Traces
    use fixed input signatures with ``None`` batch and ragged dimensions, so
    varying batch and fid counts never retrace. Tables are never held here
    (no Keras ``Embedding``): the tower only sees gathered rows.

    Built-in towers are functional code over ``tf.Variable``s named and
    initialised exactly like the torch backend's
    (:mod:`monolith.domain.tower_init`).

    Args:
        model_factory: Optional ``(spec) -> model`` replacing the built-in
            tower, typically a ``tf.keras.Model`` subclass; it is called as
            ``model(features, dense)`` with ``features`` mapping each slot to
            ``[B, w]`` (sequence slots ``[B, L, w]`` plus ``"<slot>/mask"``) and
            returns logits ``[B]`` or ``[B, 1]``. The model is built by one
            eager call on a one-example batch, after
            ``tf.keras.utils.set_random_seed(spec.seed)`` (which also seeds the
            global Python, numpy and TF generators). Its trainable variables
            are the parameters, named ``<position>.<path without the model
            name>`` (``00.dense.kernel``) so names are stable across builds.
        num_threads: When given, TF intra- and inter-op thread counts; this
            only works before TF runs its first op (otherwise a warning).

    Warning:
        One thread at a time per instance. Custom models' non-trainable
        variables (e.g. batch-norm statistics) are not part of the state.
    """

    name = "tf"

    def __init__(
        self, model_factory: ModelFactory | None = None, num_threads: int | None = None
    ) -> None:
        self._factory = model_factory
        self._num_threads = num_threads
        self._spec: ModelSpec | None = None
        self._plan: TowerPlan | None = None
        self._grid_plan: TowerPlan | None = None
        self._layout = FlatLayout(())
        self._model: Any = None
        self._names: list[str] = []
        self._variables: list[tf.Variable] = []
        self._optimizer: TfDenseOptimizer | None = None
        self._train_fn: Any = None
        self._predict_fn: Any = None
        self._apply_fn: Any = None
        self._train_graph: Any = None
        self._apply_graph: Any = None
        self._predict_graph: Any = None
        self._last_dense: tuple[dict[str, Float32Array], list[Any]] | None = None

    def build(self, spec: ModelSpec) -> None:
        if self._num_threads is not None:
            _set_threads(self._num_threads)
        self._layout = FlatLayout(plan_slots(spec))
        self._spec = spec
        if self._factory is None:
            self._plan = plan_tower(spec)
            fits = fits_grid(self._plan) and len(self._layout.groups) == 1
            self._grid_plan = self._plan if fits else None
            initial = init_tower_parameters(self._plan, spec.seed)
            self._names = list(initial)
            self._variables = [
                tf.Variable(value, name=name.replace(".", "_"))
                for name, value in initial.items()
            ]
            self._model = None
        else:
            self._plan = None
            self._grid_plan = None
            self._model = self._build_custom(spec)
            variables = list(self._model.trainable_variables)
            self._names = [_custom_name(i, v) for i, v in enumerate(variables)]
            self._variables = variables
            if len(set(self._names)) != len(self._names):
                raise ComputeError(
                    f"custom model variable names are not unique: {self._names!r}"
                )
        rules.check_parameter_names(self._names)
        self._optimizer = TfDenseOptimizer(spec.dense_optimizer, self._params())
        self._trace(spec)
        logger.info(
            "tf tower built model=%s kind=%s parameters=%d",
            spec.name,
            "custom" if self._factory else spec.tower.kind,
            sum(int(np.prod(v.shape)) for v in self._variables),
        )

    def predict(self, inputs: TowerInputs) -> Float32Array:
        self._built()
        flat, _ = self._layout.flatten(inputs)
        scores = self._predict_graph(flat)
        return np.asarray(scores.numpy(), dtype=np.float32)

    def compute_gradients(
        self, inputs: TowerInputs, labels: Float32Array
    ) -> StepResult:
        self._built()
        target = np.asarray(labels, dtype=np.float32).reshape(-1)
        if target.shape[0] != inputs.batch_size:
            raise ComputeError(
                f"labels have {target.shape[0]} entries, the batch has "
                f"{inputs.batch_size}"
            )
        flat, counts = self._layout.flatten(inputs)
        loss, scores, dense_grads, row_grads = self._train_graph(flat, target)
        # np.asarray views the tensors' memory (read-only), where .numpy()
        # would copy; the dense tensors are kept for apply_dense_gradients.
        dense = {
            n: np.asarray(g) for n, g in zip(self._names, dense_grads, strict=True)
        }
        self._last_dense = (dense, list(dense_grads))
        return StepResult(
            loss=float(loss.numpy()),
            predictions=np.asarray(scores, dtype=np.float32),
            dense_grads=dense,
            slot_grads=self._layout.slot_grads(
                [np.asarray(g) for g in row_grads], counts
            ),
        )

    def apply_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        self._built()
        missing = [n for n in self._names if n not in grads]
        if missing:
            raise ComputeError(f"dense gradients lack parameters {missing!r}")
        last, self._last_dense = self._last_dense, None
        if last is not None and all(grads[n] is last[0][n] for n in self._names):
            # The gradients compute_gradients returned: no copy back into TF.
            self._apply_graph(last[1])
            return
        self._apply_graph([np.asarray(grads[n], dtype=np.float32) for n in self._names])

    def parameters(self) -> dict[str, Float32Array]:
        self._built()
        return {
            n: np.array(v.numpy(), dtype=np.float32)
            for n, v in zip(self._names, self._variables, strict=True)
        }

    def load_parameters(self, params: Mapping[str, Float32Array]) -> None:
        self._built()
        missing = sorted(set(self._names) - set(params))
        extra = sorted(set(params) - set(self._names))
        if missing or extra:
            raise ComputeError(
                f"parameters do not fit the model: missing {missing!r}, "
                f"unexpected {extra!r}"
            )
        values = []
        for name, variable in zip(self._names, self._variables, strict=True):
            value = np.asarray(params[name], dtype=np.float32)
            if value.shape != tuple(variable.shape):
                raise ComputeError(
                    f"parameter {name!r} has shape {value.shape}, the model "
                    f"expects {tuple(variable.shape)}"
                )
            values.append(value)
        for variable, value in zip(self._variables, values, strict=True):
            variable.assign(value)

    def state(self) -> dict[str, Float32Array]:
        state = self.parameters()
        state.update(self._built_optimizer().state())
        return state

    def load_state(self, state: Mapping[str, Float32Array]) -> None:
        optimizer = self._built_optimizer()
        self.load_parameters(
            {k: v for k, v in state.items() if not k.startswith(rules.STATE_PREFIX)}
        )
        optimizer.load_state(state)

    def trace_counts(self) -> dict[str, int]:
        """How often each ``tf.function`` was traced (diagnostics: each stays
        at most 1 however batch and row counts vary)."""
        self._built()
        functions = {
            "train": self._train_fn,
            "apply": self._apply_fn,
            "predict": self._predict_fn,
        }
        return {
            name: int(fn.experimental_get_tracing_count())
            for name, fn in functions.items()
        }

    def _params(self) -> dict[str, tf.Variable]:
        return dict(zip(self._names, self._variables, strict=True))

    def _built(self) -> ModelSpec:
        if self._spec is None or self._train_fn is None:
            raise ComputeError("the tf backend is not built; call build(spec) first")
        return self._spec

    def _built_optimizer(self) -> TfDenseOptimizer:
        self._built()
        if self._optimizer is None:
            raise ComputeError("the backend has no optimizer; call build(spec)")
        return self._optimizer

    def _build_custom(self, spec: ModelSpec) -> Any:
        assert self._factory is not None
        tf.keras.utils.set_random_seed(spec.seed)
        model = self._factory(spec)
        features: dict[str, tf.Tensor] = {}
        for slot in self._layout.slots:
            if slot.pooling == "sequence":
                features[slot.name] = tf.zeros([1, slot.max_len, slot.width])
                features[slot.name + MASK_SUFFIX] = tf.zeros([1, slot.max_len])
            else:
                features[slot.name] = tf.zeros([1, slot.width])
        model(features, tf.zeros([1, spec.dense_features]))
        if not hasattr(model, "trainable_variables"):
            raise ComputeError(
                f"model_factory returned {type(model).__name__}, expected a "
                "tf.keras.Model or tf.Module"
            )
        return model

    def _forward(self, flat: Sequence[tf.Tensor]) -> tuple[list[tf.Tensor], tf.Tensor]:
        """The row tensors (one per group, then per sequence slot) and the logits."""
        dense = flat[-1]
        batch = tf.shape(dense)[0]
        rows: list[tf.Tensor] = []
        grids: list[tf.Tensor] = []
        pos = 0
        for group in self._layout.groups:
            parts = flat[pos : pos + group.arity]
            rows.append(parts[0])
            grids.append(pool_group(group, parts, batch))
            pos += group.arity
        if self._grid_plan is not None:
            logits = grid_tower_logits(self._grid_plan, self._params(), grids[0], dense)
            return rows, logits
        features: dict[str, tf.Tensor] = {}
        for group, grid in zip(self._layout.groups, grids, strict=True):
            features.update(grid_features(group, grid))
        for slot in self._layout.sequences:
            table_rows, index, source, target, mask = flat[pos : pos + SEQUENCE_ARITY]
            rows.append(table_rows)
            features[slot.name] = pad_slot(table_rows, index, source, target, mask)
            features[slot.name + MASK_SUFFIX] = mask
            pos += SEQUENCE_ARITY
        if self._model is not None:
            return rows, tf.reshape(self._model(features, dense), [-1])
        assert self._plan is not None
        return rows, tower_logits(self._plan, self._params(), features, dense)

    def _trace(self, spec: ModelSpec) -> None:
        signature = self._layout.signature(spec)
        bce = spec.loss == "bce"
        optimizer = self._built_optimizer_unchecked()

        def scores_of(logits: tf.Tensor) -> tf.Tensor:
            return tf.sigmoid(logits) if bce else logits

        def predict(flat: Sequence[tf.Tensor]) -> tf.Tensor:
            _, logits = self._forward(list(flat))
            return scores_of(logits)

        def train(flat: Sequence[tf.Tensor], labels: tf.Tensor) -> Any:
            flat = list(flat)
            with tf.GradientTape() as tape:
                tape.watch([flat[i] for i in self._layout.row_positions()])
                rows, logits = self._forward(flat)
                if bce:
                    per_example = tf.nn.sigmoid_cross_entropy_with_logits(
                        labels, logits
                    )
                else:
                    per_example = tf.square(logits - labels)
                loss = tf.reduce_mean(per_example)
            grads = tape.gradient(
                loss,
                [*self._variables, *rows],
                unconnected_gradients=tf.UnconnectedGradients.ZERO,
            )
            n = len(self._variables)
            dense_grads = [tf.convert_to_tensor(g) for g in grads[:n]]
            slot_grads = [
                _dense_rows(g, r) for g, r in zip(grads[n:], rows, strict=True)
            ]
            return loss, scores_of(logits), dense_grads, slot_grads

        def apply(grads: Sequence[tf.Tensor]) -> None:
            optimizer.apply(list(grads))

        grad_signature = [tf.TensorSpec(v.shape, tf.float32) for v in self._variables]
        self._predict_fn = tf.function(predict, input_signature=[signature])
        self._train_fn = tf.function(
            train, input_signature=[signature, tf.TensorSpec([None], tf.float32)]
        )
        self._apply_fn = tf.function(apply, input_signature=[grad_signature])
        # Steps and predictions call the traced graphs directly: a concrete
        # function skips the polymorphic dispatch (binding and signature
        # matching), about 0.35 ms per call on the DeepFM benchmark model.
        self._train_graph = self._train_fn.get_concrete_function()
        self._apply_graph = self._apply_fn.get_concrete_function()
        self._predict_graph = self._predict_fn.get_concrete_function()

    def _built_optimizer_unchecked(self) -> TfDenseOptimizer:
        if self._optimizer is None:
            raise ComputeError("the tf backend has no optimizer; call build(spec)")
        return self._optimizer


def _dense_rows(grad: Any, rows: tf.Tensor) -> tf.Tensor:
    """Sum an ``IndexedSlices`` gradient per row into a dense ``[U, w]`` tensor."""
    if isinstance(grad, tf.IndexedSlices):
        return tf.math.unsorted_segment_sum(
            grad.values, grad.indices, tf.shape(rows, out_type=grad.indices.dtype)[0]
        )
    return tf.convert_to_tensor(grad)


def _custom_name(position: int, variable: Any) -> str:
    """A name stable across builds: Keras makes layer names unique per process
    (``dense_3``), so the model's own prefix and numeric suffixes are dropped
    and the position keeps names unique: ``00.dense.kernel``."""
    path = str(getattr(variable, "path", None) or variable.name).split(":")[0]
    parts = [re.sub(r"_\d+$", "", part) for part in path.split("/")]
    return f"{position:02d}." + ".".join(parts[1:] if len(parts) > 1 else parts)


def _set_threads(count: int) -> None:
    try:
        tf.config.threading.set_intra_op_parallelism_threads(count)
        tf.config.threading.set_inter_op_parallelism_threads(count)
    except RuntimeError as exc:
        logger.warning("tf threads not set count=%d reason=%s", count, exc)
