"""The built-in towers as functional PyTorch code over a parameter dict.

This mirrors :mod:`monolith.domain.tower_plan` (the forward pass is described
there) and :mod:`monolith.adapters.compute.tf_tower`; keep the three in step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F

from monolith.domain.tower_plan import MASK_SUFFIX, SlotPlan, TowerPlan

logger = logging.getLogger(__name__)

Tensor = torch.Tensor
Params = Mapping[str, Tensor]

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,
    "linear": lambda x: x,
}
_MASKED_SCORE = 1e9


def tower_logits(
    plan: TowerPlan, params: Params, features: Mapping[str, Tensor], dense: Tensor
) -> Tensor:
    """Logits ``[B]`` of the built-in tower ``plan``.

    ``features`` maps each slot to ``[B, w]`` (pooled) or ``[B, L, w]``
    (sequence, with its mask under ``<slot>/mask``).
    """
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
        stacked = torch.stack(deep, dim=1)
        summed = stacked.sum(dim=1)
        logit_terms.append(
            0.5 * (summed * summed - (stacked * stacked).sum(dim=1)).sum(1)
        )
    if plan.kind in ("din", "dien"):
        deep.append(_interest(plan, params, embeddings, features, act))
    deep.append(dense)

    hidden = torch.cat(deep, dim=1)
    for i in range(len(plan.hidden)):
        hidden = act(hidden @ params[f"mlp.{i}.kernel"] + params[f"mlp.{i}.bias"])
    logits = (hidden @ params["out.kernel"] + params["out.bias"]).squeeze(1)
    for term in logit_terms:
        logits = logits + term
    return logits


def _masked_mean(seq: Tensor, mask: Tensor) -> Tensor:
    total = (seq * mask.unsqueeze(-1)).sum(dim=1)
    count = mask.sum(dim=1, keepdim=True).clamp(min=1.0)
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
        return (weights.unsqueeze(-1) * seq).sum(dim=1)
    states, _ = _gru(params, "gru", seq, mask, plan.gru_hidden, None)
    projected = target @ params["target_proj.kernel"]
    weights = _attention(plan, params, states, projected, mask, act)
    if plan.evolution == "augru":
        _, last = _gru(params, "augru", states, mask, plan.gru_hidden, weights)
        return last
    return (weights.unsqueeze(-1) * states).sum(dim=1)


def _attention(
    plan: TowerPlan,
    params: Params,
    seq: Tensor,
    target: Tensor,
    mask: Tensor,
    act: Callable[[Tensor], Tensor],
) -> Tensor:
    tiled = target.unsqueeze(1).expand_as(seq)
    x = torch.cat([seq, tiled, seq - tiled, seq * tiled], dim=-1)
    for i in range(len(plan.attention_hidden)):
        x = act(x @ params[f"attention.{i}.kernel"] + params[f"attention.{i}.bias"])
    score = (x @ params["attention.out.kernel"] + params["attention.out.bias"]).squeeze(
        -1
    )
    score = score - (1.0 - mask) * _MASKED_SCORE
    return torch.softmax(score, dim=-1) * mask


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
    h = x.new_zeros((x.shape[0], hidden))
    states: list[Tensor] = []
    for t in range(x.shape[1]):
        xt = projected[:, t, :]
        ht = h @ recurrent
        u = torch.sigmoid(xt[:, :hidden] + ht[:, :hidden])
        r = torch.sigmoid(xt[:, hidden : 2 * hidden] + ht[:, hidden : 2 * hidden])
        n = torch.tanh(xt[:, 2 * hidden :] + r * ht[:, 2 * hidden :])
        if attention is not None:
            u = u * attention[:, t : t + 1]
        m = mask[:, t : t + 1]
        h = m * ((1.0 - u) * h + u * n) + (1.0 - m) * h
        states.append(h)
    return torch.stack(states, dim=1), h


def pool_slot(
    slot: SlotPlan, rows: Tensor, index: Tensor, row_splits: Tensor
) -> Tensor:
    """Sum or mean of each example's rows: ``[B, w]``."""
    return F.embedding_bag(
        index, rows, row_splits, mode=slot.pooling, include_last_offset=True
    )


def pad_slot(
    rows: Tensor, index: Tensor, source: Tensor, target: Tensor, mask: Tensor
) -> Tensor:
    """Each example's rows in order, zero-padded: ``[B, L, w]`` (see SequenceLayout)."""
    batch, length = mask.shape
    gathered = F.embedding(index[source], rows)
    padded = rows.new_zeros((batch * length, rows.shape[1]))
    padded = padded.index_copy(0, target, gathered)
    return padded.view(batch, length, rows.shape[1])
