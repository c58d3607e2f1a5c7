"""The DeepFM benchmark model and its hand-written anchors, shared by
``train_step`` and ``train_throughput``.

Model (PERF.md, training rows): 26 sparse slots of one id each, dim 16 plus a
bias column, 13 dense features, FM + MLP 400-400-400, batch 1024, Adagrad.

- :func:`torch_anchor_step`: ``nn.EmbeddingBag(sparse=True)`` tables of ``vocab``
  rows per slot + ``torch.optim.Adagrad``.
- :func:`tf_anchor_step`: ``tf.function`` with ``tf.Variable`` tables,
  ``tf.nn.embedding_lookup`` and a hand-written sparse Adagrad.

Both anchors take ids already hashed mod ``vocab``, one int64 row per slot.
torch and tensorflow are imported inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from monolith.domain.embedding.config import (
    InitializerConfig,
    OptimizerConfig,
    TableConfig,
)
from monolith.domain.model_spec import (
    DenseOptimizerSpec,
    ModelSpec,
    SlotSpec,
    TowerSpec,
)

SLOTS, DIM, WIDTH, DENSE, HIDDEN, BATCH = 26, 16, 17, 13, (400, 400, 400), 1024
LR = 0.05

Ids = np.ndarray | Sequence[np.ndarray]
"""Hashed ids, one int64 row per slot: a ``[SLOTS, batch]`` array or a list."""
AnchorStep = Callable[[Ids, np.ndarray, np.ndarray], Any]


def deepfm_spec(clip_norm: float | None = None, shared: bool = False) -> ModelSpec:
    """The benchmark DeepFM: Adagrad tables (uniform 0.05, seeded per table).

    Args:
        clip_norm: the dense optimizer's gradient clip norm; ``None`` keeps
            :class:`DenseOptimizerSpec`'s default.
        shared: one table for all slots instead of one per slot. With v2
            fids (the slot in the top bits) that stays collisionless.
    """
    dense_optimizer = (
        DenseOptimizerSpec("adagrad", LR)
        if clip_norm is None
        else DenseOptimizerSpec("adagrad", LR, clip_norm)
    )
    table_optimizer = OptimizerConfig("adagrad", LR, initial_accumulator=0.1)
    tables = tuple(
        TableConfig(
            f"t{i}",
            DIM,
            has_bias=True,
            optimizer=table_optimizer,
            initializer=InitializerConfig("uniform", 0.05, seed=i),
        )
        for i in range(1 if shared else SLOTS)
    )
    return ModelSpec(
        name="bench-deepfm",
        tables=tables,
        slots=tuple(
            SlotSpec(f"s{i}", "t0" if shared else f"t{i}") for i in range(SLOTS)
        ),
        dense_features=DENSE,
        tower=TowerSpec("deepfm", HIDDEN),
        dense_optimizer=dense_optimizer,
    )


def torch_anchor_step(vocab: int) -> AnchorStep:
    """One hand-written torch training step: ``step(ids, dense, label)``."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)

    class Baseline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tables = torch.nn.ModuleList(
                torch.nn.EmbeddingBag(vocab, WIDTH, mode="sum", sparse=True)
                for _ in range(SLOTS)
            )
            for table in self.tables:
                torch.nn.init.uniform_(table.weight, -0.05, 0.05)
            sizes = [SLOTS * DIM + DENSE, *HIDDEN]
            self.mlp = torch.nn.ModuleList(
                torch.nn.Linear(a, b)
                for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            )
            self.out = torch.nn.Linear(HIDDEN[-1], 1)

        def forward(
            self, ids: list[torch.Tensor], offsets: torch.Tensor, dense: torch.Tensor
        ) -> torch.Tensor:
            pooled = [t(i, offsets) for t, i in zip(self.tables, ids, strict=True)]
            stacked = torch.stack([p[:, 1:] for p in pooled], dim=1)
            summed = stacked.sum(1)
            fm = 0.5 * (summed * summed - (stacked * stacked).sum(1)).sum(1)
            bias = torch.stack([p[:, 0] for p in pooled], dim=1).sum(1)
            x = torch.cat([stacked.flatten(1), dense], dim=1)
            for layer in self.mlp:
                x = torch.relu(layer(x))
            return self.out(x).squeeze(1) + fm + bias

    model = Baseline()
    sparse_opt = torch.optim.Adagrad(list(model.tables.parameters()), lr=LR)
    dense_opt = torch.optim.Adagrad(
        [*model.mlp.parameters(), *model.out.parameters()], lr=LR
    )
    offsets = torch.arange(BATCH, dtype=torch.int64)

    def step(ids: Ids, dense: np.ndarray, label: np.ndarray) -> None:
        logits = model(
            [torch.from_numpy(x) for x in ids], offsets, torch.from_numpy(dense)
        )
        loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(label))
        sparse_opt.zero_grad()
        dense_opt.zero_grad()
        loss.backward()
        sparse_opt.step()
        dense_opt.step()

    return step


def tf_anchor_step(vocab: int) -> AnchorStep:
    """One hand-written tf training step: ``step(ids, dense, label)``.

    ``ids`` is one ``[SLOTS, batch]`` int64 array.
    """
    import tensorflow as tf

    tables = [
        tf.Variable(tf.random.stateless_uniform([vocab, WIDTH], [0, i], -0.05, 0.05))
        for i in range(SLOTS)
    ]
    accumulators = [tf.Variable(tf.fill([vocab, WIDTH], 0.1)) for _ in tables]
    glorot = tf.keras.initializers.GlorotUniform(seed=0)
    sizes = [SLOTS * DIM + DENSE, *HIDDEN, 1]
    weights = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        weights += [tf.Variable(glorot([a, b])), tf.Variable(tf.zeros([b]))]
    dense_acc = [tf.Variable(tf.fill(tf.shape(w), 0.1)) for w in weights]

    @tf.function(
        input_signature=[
            tf.TensorSpec([SLOTS, None], tf.int64),
            tf.TensorSpec([None, DENSE], tf.float32),
            tf.TensorSpec([None], tf.float32),
        ]
    )
    def step(ids: tf.Tensor, dense: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            pooled = [tf.nn.embedding_lookup(tables[i], ids[i]) for i in range(SLOTS)]
            stacked = tf.stack([p[:, 1:] for p in pooled], axis=1)
            summed = tf.reduce_sum(stacked, 1)
            fm = 0.5 * tf.reduce_sum(
                summed * summed - tf.reduce_sum(stacked * stacked, 1), 1
            )
            bias = tf.add_n([p[:, 0] for p in pooled])
            x = tf.concat([tf.reshape(stacked, [-1, SLOTS * DIM]), dense], axis=1)
            for i in range(0, len(weights) - 2, 2):
                x = tf.nn.relu(x @ weights[i] + weights[i + 1])
            logits = tf.squeeze(x @ weights[-2] + weights[-1], 1) + fm + bias
            loss = tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels, logits)
            )
        grads = tape.gradient(loss, [*tables, *weights])
        for table, acc, g in zip(tables, accumulators, grads[:SLOTS], strict=True):
            unique, inverse = tf.unique(g.indices)
            summed_g = tf.math.unsorted_segment_sum(g.values, inverse, tf.size(unique))
            acc_rows = tf.gather(acc, unique) + summed_g * summed_g
            acc.scatter_update(tf.IndexedSlices(acc_rows, unique))
            table.scatter_sub(
                tf.IndexedSlices(LR * summed_g / tf.sqrt(acc_rows), unique)
            )
        for w, acc, g in zip(weights, dense_acc, grads[SLOTS:], strict=True):
            acc.assign_add(g * g)
            w.assign_sub(LR * g / (tf.sqrt(acc) + 1e-7))
        return loss

    return step


def set_tf_threads(threads: int) -> None:
    """Intra- and inter-op threads, unless tensorflow has already started."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass


def report(
    bench: str, backend: str, times: dict[str, float], anchor: str, width: int
) -> None:
    """Print the examples/s table and the ``RESULT name=<bench>_<backend>`` line.

    ``ours`` is the first variant whose name starts with ``ours``.
    """
    print(f"\n{backend}: examples/s (median of rounds, batch {BATCH})")
    print(f"  {'variant':{width}s} {'ms/step':>9s} {'ex/s':>10s} {'vs anchor':>10s}")
    for name, seconds in times.items():
        ratio = times[anchor] / seconds
        print(
            f"  {name:{width}s} {1e3 * seconds:9.2f} {BATCH / seconds:10.0f} "
            f"{ratio:10.2f}"
        )
    ours_name = next(n for n in times if n.startswith("ours"))
    ours = BATCH / times[ours_name]
    base = BATCH / times[anchor]
    print(
        f"RESULT name={bench}_{backend} ours={ours:.0f} anchor={base:.0f} "
        f"unit=examples/s ratio={ours / base:.2f}"
    )
