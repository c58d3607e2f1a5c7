"""Write an export version as a TensorFlow SavedModel (``--format saved_model``).

The SavedModel sits at the root of the version directory (``saved_model.pb``
and ``variables/``) next to monolith's own files, so both
``tf.saved_model.load(<export>/<version>)`` and ``monolith serve`` read it.

Signature ``serving_default`` takes one dict: per slot ``<slot>_values``
(int64 ``[N]``) and ``<slot>_row_splits`` (int64 ``[B+1]``), plus ``dense``
(float32 ``[B, n]``); it returns ``{"scores": float32 [B]}``. Tables are
embedded as sorted fid keys with their rows at export precision (int8 rows
are decoded in the graph with their per-row scales); a missing fid reads as
zeros, as in monolith serving.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import tensorflow as tf

from monolith.adapters.compute.tf_tower import pool_slot, tower_logits
from monolith.domain.errors import ExportError
from monolith.domain.model_spec import ModelSpec
from monolith.domain.serving_table import ServingTable
from monolith.domain.tower_plan import plan_tower
from monolith.ports.compute import ComputeBackend

logger = logging.getLogger(__name__)

_DTYPES = {32: tf.float32, 16: tf.float16, 8: tf.int8}


class _Table(tf.Module):  # type: ignore[misc]
    def __init__(self, table: ServingTable) -> None:
        super().__init__(name=f"table_{table.name}")
        fids, _ = table.all_rows()
        stored_values, stored_scales = table.stored_rows()
        self.bits = table.bits
        self.width = table.width
        self.empty = fids.shape[0] == 0
        self.keys = tf.Variable(fids, trainable=False, name="keys")
        self.values = tf.Variable(stored_values, trainable=False, name="values")
        scales = stored_scales if stored_scales is not None else np.ones(0, np.float32)
        self.scales = tf.Variable(scales, trainable=False, name="scales")

    def lookup(self, fids: Any) -> Any:
        zeros = tf.zeros([tf.shape(fids)[0], self.width], tf.float32)
        if self.empty:
            return zeros
        last = tf.shape(self.keys, out_type=tf.int64)[0] - 1
        pos = tf.minimum(tf.searchsorted(self.keys, fids, out_type=tf.int64), last)
        rows = tf.cast(tf.gather(self.values, pos), tf.float32)
        if self.bits == 8:
            rows = rows * tf.gather(self.scales, pos)[:, None]
        hit = tf.equal(tf.gather(self.keys, pos), fids)
        return tf.where(hit[:, None], rows, zeros)


class _ExportedModel(tf.Module):  # type: ignore[misc]
    def __init__(
        self,
        spec: ModelSpec,
        params: dict[str, np.ndarray],
        tables: dict[str, ServingTable],
    ) -> None:
        super().__init__(name="monolith_export")
        self._spec = spec
        self._plan = plan_tower(spec)
        self.param_names = sorted(params)
        self.param_vars = [
            tf.Variable(params[n], trainable=False, name=n.replace(".", "_"))
            for n in self.param_names
        ]
        self.tables = {name: _Table(table) for name, table in sorted(tables.items())}

    def scores(self, inputs: dict[str, Any]) -> dict[str, Any]:
        params = dict(zip(self.param_names, self.param_vars, strict=True))
        features = {}
        for slot in self._spec.slots:
            values = inputs[f"{slot.name}_values"]
            splits = inputs[f"{slot.name}_row_splits"]
            unique, index = tf.unique(values, out_idx=tf.int64)
            rows = self.tables[slot.table].lookup(unique)
            features[slot.name] = pool_slot(slot.pooling, rows, index, splits)
        logits = tower_logits(self._plan, params, features, inputs["dense"])
        scores = tf.sigmoid(logits) if self._spec.loss == "bce" else logits
        return {"scores": scores}


def write_saved_model(
    spec: ModelSpec,
    backend: ComputeBackend,
    tables: dict[str, ServingTable],
    directory: str,
) -> None:
    """Save the model with ``tables`` as a SavedModel at ``directory``.

    Raises:
        ExportError: a sequence slot (not supported in the SavedModel graph
            yet) or a failure while tracing or saving.
    """
    sequence = [s.name for s in spec.slots if s.pooling == "sequence"]
    if sequence:
        # TODO(#6): lay out sequence slots in-graph so din/dien export to SavedModel.
        raise ExportError(
            f"--format saved_model does not support sequence slots yet "
            f"({', '.join(sequence)}); use --format monolith"
        )
    module = _ExportedModel(spec, backend.parameters(), tables)
    signature: dict[str, Any] = {}
    for slot in spec.slots:
        signature[f"{slot.name}_values"] = tf.TensorSpec(
            [None], tf.int64, name=f"{slot.name}_values"
        )
        signature[f"{slot.name}_row_splits"] = tf.TensorSpec(
            [None], tf.int64, name=f"{slot.name}_row_splits"
        )
    signature["dense"] = tf.TensorSpec(
        [None, spec.dense_features], tf.float32, name="dense"
    )
    serve = tf.function(module.scores, input_signature=[signature])
    module.serve = serve
    try:
        tf.saved_model.save(
            module,
            directory,
            signatures={"serving_default": serve.get_concrete_function()},
        )
    except (ValueError, TypeError, tf.errors.OpError) as exc:
        raise ExportError(f"cannot write a SavedModel to {directory}: {exc}") from exc
    logger.info("saved model written path=%s tables=%d", directory, len(tables))
