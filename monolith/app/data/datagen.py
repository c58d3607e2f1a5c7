"""Synthetic click logs drawn from a planted model with a known optimum.

The planted model: every slot has ``vocab_size`` fids with Zipf popularity;
each fid has a bias and a latent vector. A row takes one fid per slot (every
fourth slot is multi-valued: 1 to 3 fids, summed), plus ``num_dense`` normal
dense features. Its logit is

    z = b0 + sum(biases) + sum over slot pairs <v_s, v_t> + dense term

and the click is Bernoulli(sigmoid(z + e)) with unobserved noise ``e``. Any
monotone function of ``z`` is Bayes-optimal for ranking, so the AUC of ``z``
against the drawn labels is the best AUC a model can reach on that split;
``meta.json`` records it as ``bayes_auc_train`` / ``bayes_auc_eval``.

Planted parameters depend only on ``seed``; rows depend on ``seed`` and the
row count; the output is byte-identical for the same arguments.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from monolith.adapters.data.example_encode import ExampleEncoder
from monolith.adapters.data.tfrecord import TFRecordWriter
from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.errors import UsageError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.fids import make_fids
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

CHUNK_ROWS = 32768
INTERACTION_VARIANCE = 0.4
FloatArray = npt.NDArray[np.float64]


@attrs.frozen
class DatagenResult:
    """What :func:`generate` wrote."""

    out_dir: str
    train_files: tuple[str, ...]
    eval_files: tuple[str, ...]
    meta: dict[str, Any]


@attrs.frozen
class PlantedModel:
    """The true parameters labels are drawn from."""

    signatures: npt.NDArray[np.int64]  # [slots, vocab]
    popularity: FloatArray  # [vocab] Zipf probabilities
    bias: FloatArray  # [slots, vocab]
    latent: FloatArray  # [slots, vocab, dim]
    dense_weight: FloatArray  # [num_dense]
    intercept: float
    noise: float


def plant(
    seed: int,
    slots: int,
    vocab_size: int,
    dim: int = 4,
    num_dense: int = 3,
    zipf: float = 1.1,
) -> PlantedModel:
    """Draw the planted model for ``seed``."""
    rng = np.random.default_rng([seed, 0])
    ranks = np.arange(1, vocab_size + 1, dtype=np.float64)
    popularity = ranks**-zipf
    popularity /= popularity.sum()
    pairs = max(slots * (slots - 1) // 2, 1)
    # Variance budget of the logit: fid biases ~1.6, pairwise interactions
    # ~INTERACTION_VARIANCE, dense ~0.75; a DeepFM gets close to the Bayes AUC
    # in a few hundred steps because most signal is first order.
    scale = (INTERACTION_VARIANCE / (pairs * dim)) ** 0.25
    bias_std = (1.6 / slots) ** 0.5
    signs = rng.choice(np.array([-1.0, 1.0]), size=num_dense)
    return PlantedModel(
        signatures=rng.integers(0, 1 << 48, size=(slots, vocab_size), dtype=np.int64),
        popularity=popularity,
        bias=rng.normal(0.0, bias_std, size=(slots, vocab_size)),
        latent=rng.normal(0.0, scale, size=(slots, vocab_size, dim)),
        dense_weight=signs * (0.75 / max(num_dense, 1)) ** 0.5,
        intercept=-1.2,
        noise=0.3,
    )


def slot_names(slots: int) -> tuple[str, ...]:
    """Names of the sparse features: ``slot_1`` .. ``slot_S`` (fid slot = number)."""
    return tuple(f"slot_{s + 1}" for s in range(slots))


def _draw(
    model: PlantedModel, rng: np.random.Generator, rows: int, names: tuple[str, ...]
) -> tuple[Batch, FloatArray]:
    slots, vocab = model.bias.shape
    dim = model.latent.shape[2]
    z = np.full(rows, model.intercept)
    pooled = np.zeros((slots, rows, dim))
    sparse: dict[str, RaggedFids] = {}
    for s in range(slots):
        multi = s % 4 == 3
        counts = rng.integers(1, 4, size=rows) if multi else np.ones(rows, np.int64)
        total = int(counts.sum())
        idx = rng.choice(vocab, size=total, p=model.popularity)
        owner = np.repeat(np.arange(rows), counts)
        z += np.bincount(owner, weights=model.bias[s, idx], minlength=rows)
        for d in range(dim):
            pooled[s, :, d] = np.bincount(
                owner, weights=model.latent[s, idx, d], minlength=rows
            )
        splits = np.zeros(rows + 1, dtype=np.int64)
        np.cumsum(counts, out=splits[1:])
        sparse[names[s]] = RaggedFids(
            make_fids(s + 1, model.signatures[s, idx]), splits
        )
    total_vec = pooled.sum(axis=0)
    z += 0.5 * ((total_vec**2).sum(axis=1) - (pooled**2).sum(axis=(0, 2)))
    dense = rng.normal(size=(rows, model.dense_weight.size))
    z += dense @ model.dense_weight
    if dense.shape[1] >= 2:
        z += 0.3 * np.tanh(dense[:, 0] * dense[:, 1])
    p = 1.0 / (1.0 + np.exp(-(z + rng.normal(0.0, model.noise, size=rows))))
    label = (rng.random(rows) < p).astype(np.float32)
    batch = Batch(sparse=sparse, dense=dense.astype(np.float32), label=label)
    return batch, z


def auc(labels: npt.NDArray[np.floating[Any]], scores: FloatArray) -> float:
    """Area under the ROC curve (ties count half); NaN with one class only."""
    positive = np.asarray(labels) > 0.5
    pos = int(positive.sum())
    neg = positive.size - pos
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[positive].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def generate(
    fs: FileSystem,
    out_dir: str,
    rows: int,
    seed: int,
    *,
    slots: int = 8,
    eval_fraction: float = 0.1,
    shards: int = 1,
    vocab_size: int = 100,
    num_dense: int = 3,
    progress: Callable[[int], None] | None = None,
) -> DatagenResult:
    """Write ``train-*.tfrecord``, ``eval-*.tfrecord`` and ``meta.json``.

    Args:
        fs: the storage to write to.
        out_dir: the output directory (created).
        rows: total rows over both splits.
        seed: seeds the planted model and the rows.
        slots: sparse slots (1..1000).
        eval_fraction: share of rows in the eval split (0 <= F < 1).
        shards: files per split.
        vocab_size: fids per slot.
        num_dense: dense features.
        progress: called with the number of rows just written.

    Raises:
        UsageError: for out-of-range arguments.
    """
    if rows < 1:
        raise UsageError(f"--rows must be at least 1, got {rows}")
    if not 1 <= slots <= 1000:
        raise UsageError(f"--slots must be between 1 and 1000, got {slots}")
    if not 0.0 <= eval_fraction < 1.0:
        raise UsageError(f"--eval-fraction must be in [0, 1), got {eval_fraction}")
    if shards < 1:
        raise UsageError(f"--shards must be at least 1, got {shards}")
    if vocab_size < 1:
        raise UsageError(f"vocab_size must be at least 1, got {vocab_size}")
    names = slot_names(slots)
    spec = FeatureSpec(
        sparse=names, dense=tuple(f"dense_{i}" for i in range(num_dense)), label="label"
    )
    model = plant(seed, slots, vocab_size, num_dense=num_dense)
    rng = np.random.default_rng([seed, 1])
    is_eval = rng.random(rows) < eval_fraction
    split_rows = {"train": int((~is_eval).sum()), "eval": int(is_eval.sum())}
    base = out_dir.rstrip("/")
    fs.makedirs(base)
    files: dict[str, list[str]] = {
        split: [
            f"{base}/{split}-{k:05d}-of-{shards:05d}.tfrecord" for k in range(shards)
        ]
        for split in ("train", "eval")
    }
    writers = {
        split: [TFRecordWriter(fs.open(p, "wb"), name=p) for p in paths]
        for split, paths in files.items()
    }
    written = {"train": 0, "eval": 0}
    scores: dict[str, list[FloatArray]] = {"train": [], "eval": []}
    labels: dict[str, list[npt.NDArray[np.float32]]] = {"train": [], "eval": []}
    encoder = ExampleEncoder(spec)
    try:
        for start in range(0, rows, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows - start)
            batch, z = _draw(model, rng, count, names)
            records = encoder.encode(batch)
            flags = is_eval[start : start + count]
            for split, mask in (("train", ~flags), ("eval", flags)):
                idx = np.nonzero(mask)[0]
                if idx.size == 0:
                    continue
                scores[split].append(z[idx])
                labels[split].append(batch.label[idx])
                shard_of = (
                    (written[split] + np.arange(idx.size))
                    * shards
                    // max(split_rows[split], 1)
                )
                for k in np.unique(shard_of):
                    chosen = idx[shard_of == k]
                    writers[split][int(k)].write_many(records[i] for i in chosen)
                written[split] += idx.size
            if progress is not None:
                progress(count)
    finally:
        for split_writers in writers.values():
            for writer in split_writers:
                writer.close()
    meta: dict[str, Any] = {
        "format": "tfrecord/tf.train.Example",
        "feature_spec": spec.to_dict(),
        "seed": seed,
        "rows": rows,
        "train_rows": split_rows["train"],
        "eval_rows": split_rows["eval"],
        "slots": slots,
        "vocab_size": vocab_size,
        "latent_dim": int(model.latent.shape[2]),
        "fid_layout": "v2 (slot << 48 | signature)",
        "train_pattern": f"{base}/train-*.tfrecord",
        "eval_pattern": f"{base}/eval-*.tfrecord",
        "files": {
            split: [p.rsplit("/", 1)[-1] for p in paths]
            for split, paths in files.items()
        },
    }
    for split in ("train", "eval"):
        if scores[split]:
            y = np.concatenate(labels[split])
            meta[f"bayes_auc_{split}"] = auc(y, np.concatenate(scores[split]))
            meta[f"label_rate_{split}"] = float(y.mean())
        else:
            meta[f"bayes_auc_{split}"] = None
            meta[f"label_rate_{split}"] = None
    with fs.atomic_write(f"{base}/meta.json") as handle:
        handle.write(json.dumps(meta, indent=2, sort_keys=True).encode())
    logger.info(
        "synthetic data written dir=%s rows=%d bayes_auc_eval=%s",
        base,
        rows,
        meta["bayes_auc_eval"],
    )
    return DatagenResult(base, tuple(files["train"]), tuple(files["eval"]), meta)
