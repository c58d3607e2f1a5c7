"""Write an export version as a TensorFlow SavedModel (``--format saved_model``).

The SavedModel sits at the root of the version directory (``saved_model.pb``
and ``variables/``) next to monolith's own files, so both
``tf.saved_model.load(<export>/<version>)`` and ``monolith serve`` read it.

Signature ``serving_default`` takes one dict: per slot ``<slot>_values``
(int64 ``[N]``) and ``<slot>_row_splits`` (int64 ``[B+1]``), plus ``dense``
(float32 ``[B, n]``); it returns ``{"scores": float32 [B]}``. A sequence
slot (din, dien) takes the same ragged pair and is padded in the graph by
:func:`sequence_layout_in_graph`, the TensorFlow twin of
:func:`monolith.domain.sequence_layout.layout_sequence`: fids keep their
order, are left-aligned in ``[B, max_len]``, a longer sequence keeps its last
``max_len`` fids, and a mask marks the written positions. Tables are
embedded as sorted fid keys with their rows at export precision (int8 rows
are decoded in the graph with their per-row scales); a missing fid reads as
zeros, as in monolith serving.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import tensorflow as tf

from monolith.adapters.compute.tf_tower import pad_slot, pool_slot, tower_logits
from monolith.domain.errors import ExportError
from monolith.domain.model_spec import ModelSpec
from monolith.domain.serving_table import ServingTable
from monolith.domain.tower_plan import MASK_SUFFIX, plan_tower
from monolith.ports.compute import ComputeBackend

logger = logging.getLogger(__name__)

_DTYPES = {32: tf.float32, 16: tf.float16, 8: tf.int8}


def sequence_layout_in_graph(row_splits: Any, max_len: int) -> tuple[Any, Any, Any]:
    """``(source, target, mask)`` of :class:`~monolith.domain.sequence_layout.
    SequenceLayout`, computed from an int64 ``row_splits`` tensor in the graph."""
    splits = tf.cast(row_splits, tf.int64)
    batch = tf.shape(splits, out_type=tf.int64)[0] - 1
    lengths = splits[1:] - splits[:-1]
    total = splits[-1]
    example = tf.repeat(tf.range(batch, dtype=tf.int64), lengths)
    start = splits[:-1] + tf.maximum(lengths - max_len, 0)
    occurrence = tf.range(total, dtype=tf.int64)
    keep = occurrence >= tf.gather(start, example)
    source = tf.boolean_mask(occurrence, keep)
    kept_example = tf.boolean_mask(example, keep)
    target = kept_example * max_len + (source - tf.gather(start, kept_example))
    flat = tf.scatter_nd(
        target[:, None], tf.ones_like(target, tf.float32), [batch * max_len]
    )
    return source, target, tf.reshape(flat, [-1, max_len])


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
            if slot.pooling == "sequence":
                source, target, mask = sequence_layout_in_graph(splits, slot.max_len)
                features[slot.name] = pad_slot(rows, index, source, target, mask)
                features[slot.name + MASK_SUFFIX] = mask
            else:
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
        ExportError: a failure while tracing or saving.
    """
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
