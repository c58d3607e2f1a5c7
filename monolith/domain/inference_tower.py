"""Inference of the built-in ``mlp`` and ``deepfm`` towers in plain numpy.

Serving scores small batches, where a framework's per-op overhead dominates
(a batch-1 forward on torch eager costs hundreds of microseconds of dispatch).
This module computes the same forward pass as
:mod:`monolith.adapters.compute.torch_tower` (described in
:mod:`monolith.domain.tower_plan`) with a handful of numpy calls. It covers
pooled slots (``sum``/``mean``) and the activations ``relu``, ``tanh``,
``sigmoid`` and ``linear``; :func:`supports` says when it applies. Serving
checks it against the backend on a probe batch before using it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from monolith.domain.tower_plan import TowerPlan

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]


def _sigmoid(x: Float32Array) -> Float32Array:
    out: Float32Array = 0.5 * (np.tanh(0.5 * x) + 1.0)
    return out


_ACTIVATIONS: dict[str, Callable[[Float32Array], Float32Array]] = {
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "linear": lambda x: x,
}


def supports(plan: TowerPlan) -> bool:
    """Whether :func:`tower_scores` computes this tower."""
    return (
        plan.kind in ("mlp", "deepfm")
        and plan.activation in _ACTIVATIONS
        and all(s.pooling in ("sum", "mean") for s in plan.slots)
    )


def pool(rows: Float32Array, row_splits: Int64Array, mode: str) -> Float32Array:
    """Sum (or mean) of each example's rows, one row per fid occurrence: ``[B, w]``."""
    batch = row_splits.shape[0] - 1
    if rows.shape[0] == 0:
        return np.zeros((batch, rows.shape[1]), dtype=np.float32)
    pooled: Float32Array
    if batch == 1:
        pooled = rows.sum(axis=0, keepdims=True)
    else:
        totals = np.zeros((rows.shape[0] + 1, rows.shape[1]), dtype=np.float32)
        np.cumsum(rows, axis=0, out=totals[1:])
        pooled = totals[row_splits[1:]] - totals[row_splits[:-1]]
    if mode == "mean":
        counts = np.maximum(np.diff(row_splits), 1).astype(np.float32)
        pooled = pooled / counts[:, None]
    return pooled


def tower_scores(
    plan: TowerPlan,
    params: Mapping[str, Float32Array],
    pooled: Mapping[str, Float32Array],
    dense: Float32Array,
    loss: str,
) -> Float32Array:
    """Scores ``[B]``: sigmoid of the logits for ``bce``, the logits for ``mse``.

    Args:
        plan: A tower :func:`supports` accepts.
        params: Dense parameters by name (``mlp.<i>.kernel``, ``out.bias``...).
        pooled: Each slot's pooled ``[B, width]`` rows (bias column first).
        dense: ``[B, dense_features]``.
        loss: ``bce`` or ``mse``.
    """
    act = _ACTIVATIONS[plan.activation]
    logit_terms: list[Float32Array] = []
    deep: list[Float32Array] = []
    for slot in plan.slots:
        value = pooled[slot.name]
        if slot.has_bias:
            logit_terms.append(value[:, 0])
            value = value[:, slot.offset :]
        deep.append(value)
    if plan.kind == "deepfm":
        stacked = np.stack(deep, axis=1)
        summed = stacked.sum(axis=1)
        logit_terms.append(
            0.5 * (summed * summed - (stacked * stacked).sum(axis=1)).sum(axis=1)
        )
    deep.append(np.asarray(dense, dtype=np.float32))
    hidden = np.concatenate(deep, axis=1)
    for i in range(len(plan.hidden)):
        hidden = act(hidden @ params[f"mlp.{i}.kernel"] + params[f"mlp.{i}.bias"])
    logits = (hidden @ params["out.kernel"] + params["out.bias"])[:, 0]
    for term in logit_terms:
        logits = logits + term
    scores = _sigmoid(logits) if loss == "bce" else logits
    return np.asarray(scores, dtype=np.float32)
