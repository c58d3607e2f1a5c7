"""The built-in towers as functional TensorFlow code over a variable dict.

This mirrors :mod:`monolith.domain.tower_plan` (the forward pass is described
there) and :mod:`monolith.adapters.compute.torch_tower`; keep the three in step.
Everything here runs inside ``tf.function`` traces.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import tensorflow as tf

from monolith.domain.tower_plan import MASK_SUFFIX, TowerPlan

logger = logging.getLogger(__name__)

Tensor: TypeAlias = Any
"""``tf.Tensor`` (TensorFlow ships no type information mypy can use)."""
Params: TypeAlias = Mapping[str, Any]


def _gelu(x: Tensor) -> Tensor:
    return tf.nn.gelu(x, approximate=False)


_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": tf.nn.relu,
    "tanh": tf.tanh,
    "sigmoid": tf.sigmoid,
    "gelu": _gelu,
    "linear": tf.identity,
}
_MASKED_SCORE = 1e9


def tower_logits(
    plan: TowerPlan, params: Params, features: Mapping[str, Tensor], dense: Tensor
) -> Tensor:
    """Logits ``[B]`` of the built-in tower ``plan`` (see the torch twin)."""
    act = _ACTIVATIONS[plan.activation]
    logit_terms: list[Tensor] = []
    embeddings: dict[str, Tensor] = {}
    for slot in plan.slots:
        value = features[slot.name]
        if slot.pooling != "sequence" and slot.has_bias:
            logit_terms.append(value[:, 0])
        embeddings[slot.name] = value[..., slot.offset :] if slot.has_bias else value

    deep: list[Tensor] = []
    for slot in plan.deep_slots:
        emb = embeddings[slot.name]
        if slot.pooling == "sequence":
            emb = _masked_mean(emb, features[slot.name + MASK_SUFFIX])
        deep.append(emb)
    if plan.kind == "deepfm":
        stacked = tf.stack(deep, axis=1)
        summed = tf.reduce_sum(stacked, axis=1)
        square = tf.reduce_sum(stacked * stacked, axis=1)
        logit_terms.append(0.5 * tf.reduce_sum(summed * summed - square, axis=1))
    if plan.kind in ("din", "dien"):
        deep.append(_interest(plan, params, embeddings, features, act))
    deep.append(dense)

    logits = _deep_logits(plan, params, tf.concat(deep, axis=1), act)
    for term in logit_terms:
        logits = logits + term
    return logits


def fits_grid(plan: TowerPlan) -> bool:
    """Whether :func:`grid_tower_logits` can run ``plan``: an ``mlp`` or
    ``deepfm`` tower whose slots are all pooled from tables of one width and
    one bias layout."""
    return (
        plan.kind in ("mlp", "deepfm")
        and all(s.pooling != "sequence" for s in plan.slots)
        and len({(s.width, s.has_bias) for s in plan.slots}) == 1
    )


def grid_tower_logits(
    plan: TowerPlan, params: Params, grid: Tensor, dense: Tensor
) -> Tensor:
    """:func:`tower_logits` of a :func:`fits_grid` plan from its pooled slots
    stacked as ``grid`` ``[B, S, w]`` (plan order): the same sums in bulk ops,
    so the trace has a handful of ops instead of a few per slot."""
    first = plan.slots[0]
    terms: list[Tensor] = []
    embeddings = grid
    if first.has_bias:
        bias, embeddings = tf.split(grid, [1, first.dim], axis=2)
        terms.append(tf.reduce_sum(bias, axis=[1, 2]))
    if plan.kind == "deepfm":
        summed = tf.reduce_sum(embeddings, axis=1)
        square = tf.reduce_sum(embeddings * embeddings, axis=1)
        terms.append(0.5 * tf.reduce_sum(summed * summed - square, axis=1))
    batch = tf.shape(grid)[0]
    flat = tf.reshape(embeddings, tf.stack([batch, len(plan.slots) * first.dim]))
    hidden = tf.concat([flat, dense], axis=1)
    logits = _deep_logits(plan, params, hidden, _ACTIVATIONS[plan.activation])
    for term in terms:
        logits = logits + term
    return logits


def _deep_logits(
    plan: TowerPlan, params: Params, hidden: Tensor, act: Callable[[Tensor], Tensor]
) -> Tensor:
    # bias_add, not +: its gradient is one BiasAddGrad kernel instead of a
    # broadcast-shape Sum (the batch size is unknown at trace time).
    for i in range(len(plan.hidden)):
        hidden = act(
            tf.nn.bias_add(hidden @ params[f"mlp.{i}.kernel"], params[f"mlp.{i}.bias"])
        )
    logits = tf.nn.bias_add(hidden @ params["out.kernel"], params["out.bias"])
    return tf.squeeze(logits, axis=1)


def _masked_mean(seq: Tensor, mask: Tensor) -> Tensor:
    total = tf.reduce_sum(seq * mask[:, :, None], axis=1)
    count = tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1.0)
    return total / count


def _interest(
    plan: TowerPlan,
    params: Params,
    embeddings: Mapping[str, Tensor],
    features: Mapping[str, Tensor],
    act: Callable[[Tensor], Tensor],
) -> Tensor:
    sequence = str(plan.sequence_slot)
    seq = embeddings[sequence]
    mask = features[sequence + MASK_SUFFIX]
    target = embeddings[str(plan.target_slot)]
    if plan.kind == "din":
        weights = _attention(plan, params, seq, target, mask, act)
        return tf.reduce_sum(weights[:, :, None] * seq, axis=1)
    states, _ = _gru(params, "gru", seq, mask, plan.gru_hidden, None)
    projected = target @ params["target_proj.kernel"]
    weights = _attention(plan, params, states, projected, mask, act)
    if plan.evolution == "augru":
        _, last = _gru(params, "augru", states, mask, plan.gru_hidden, weights)
        return last
    return tf.reduce_sum(weights[:, :, None] * states, axis=1)


def _attention(
    plan: TowerPlan,
    params: Params,
    seq: Tensor,
    target: Tensor,
    mask: Tensor,
    act: Callable[[Tensor], Tensor],
) -> Tensor:
    tiled = tf.broadcast_to(target[:, None, :], tf.shape(seq))
    x = tf.concat([seq, tiled, seq - tiled, seq * tiled], axis=-1)
    for i in range(len(plan.attention_hidden)):
        x = act(x @ params[f"attention.{i}.kernel"] + params[f"attention.{i}.bias"])
    score = x @ params["attention.out.kernel"] + params["attention.out.bias"]
    score = tf.squeeze(score, axis=-1) - (1.0 - mask) * _MASKED_SCORE
    return tf.nn.softmax(score, axis=-1) * mask


def _gru(
    params: Params,
    prefix: str,
    x: Tensor,
    mask: Tensor,
    hidden: int,
    attention: Tensor | None,
) -> tuple[Tensor, Tensor]:
    projected = x @ params[f"{prefix}.wx"] + params[f"{prefix}.b"]
    recurrent = params[f"{prefix}.wh"]
    h = tf.zeros(tf.stack([tf.shape(x)[0], hidden]), dtype=x.dtype)
    states: list[Tensor] = []
    for t in range(int(mask.shape[1])):
        xt = projected[:, t, :]
        ht = h @ recurrent
        u = tf.sigmoid(xt[:, :hidden] + ht[:, :hidden])
        r = tf.sigmoid(xt[:, hidden : 2 * hidden] + ht[:, hidden : 2 * hidden])
        n = tf.tanh(xt[:, 2 * hidden :] + r * ht[:, 2 * hidden :])
        if attention is not None:
            u = u * attention[:, t : t + 1]
        m = mask[:, t : t + 1]
        h = m * ((1.0 - u) * h + u * n) + (1.0 - m) * h
        states.append(h)
    return tf.stack(states, axis=1), h


def pool_slot(mode: str, rows: Tensor, index: Tensor, row_splits: Tensor) -> Tensor:
    """Sum or mean of each example's rows: ``[B, w]`` (empty examples give 0)."""
    batch = tf.shape(row_splits, out_type=tf.int64)[0] - 1
    segments = tf.ragged.row_splits_to_segment_ids(row_splits, out_type=tf.int64)
    pooled = tf.math.unsorted_segment_sum(tf.gather(rows, index), segments, batch)
    if mode == "mean":
        counts = tf.cast(row_splits[1:] - row_splits[:-1], rows.dtype)
        pooled = pooled / tf.maximum(counts, 1.0)[:, None]
    return pooled


def pad_slot(
    rows: Tensor, index: Tensor, source: Tensor, target: Tensor, mask: Tensor
) -> Tensor:
    """Each example's rows in order, zero-padded: ``[B, L, w]`` (see SequenceLayout)."""
    length = int(mask.shape[1])
    batch = tf.shape(mask, out_type=tf.int64)[0]
    width = tf.shape(rows, out_type=tf.int64)[1]
    gathered = tf.gather(rows, tf.gather(index, source))
    padded = tf.scatter_nd(target[:, None], gathered, tf.stack([batch * length, width]))
    return tf.reshape(padded, [-1, length, rows.shape[1]])
