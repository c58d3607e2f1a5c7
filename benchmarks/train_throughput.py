"""Training throughput of monolith's whole training loop vs hand-written baselines.

Model (PERF.md, training rows): DeepFM, 26 sparse slots of one id each, dim 16
(plus a bias column), 13 dense features, MLP 400-400-400, batch 1024, Adagrad.

- ours: :class:`~monolith.app.training.local_cluster.LocalCluster` training
  (what ``monolith train`` runs: worker thread, NaN guard and logging hooks,
  per-slot unique + lookup in the collisionless
  :class:`~monolith.adapters.parameters.local.LocalParameterStore`, the
  backend's forward/backward, sparse Adagrad on the store, dense Adagrad),
  fed pre-built batches of raw 63-bit fids, so input decoding is not timed.
- torch anchor: ``nn.EmbeddingBag(sparse=True)`` tables of ``--vocab`` rows
  per slot (fids hashed mod vocab) with ``torch.optim.Adagrad``.
- tf anchor: ``tf.function`` with ``tf.Variable`` tables,
  ``tf.nn.embedding_lookup`` and a hand-written sparse Adagrad.

Usage: ``python -m benchmarks.train_throughput [--quick] [--backend
torch|tf|both] [--profile]``. Prints a table, an optional one-step profile,
and one ``RESULT`` line per backend (ratio = ours / anchor examples/s).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

import numpy as np

from monolith.adapters.clock.system import SystemClock
from monolith.adapters.parameters.local import LocalParameterStore
from monolith.app.training.hooks import LoggingHook, NonFiniteLossGuard
from monolith.app.training.local_cluster import LocalCluster
from monolith.app.training.step import WorkerStep
from monolith.domain.batch import Batch, RaggedFids
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
from monolith.ports.compute import ComputeBackend

SLOTS, DIM, WIDTH, DENSE, HIDDEN, BATCH = 26, 16, 17, 13, (400, 400, 400), 1024
LR = 0.05


def deepfm_spec() -> ModelSpec:
    table_optimizer = OptimizerConfig("adagrad", LR, initial_accumulator=0.1)
    tables = tuple(
        TableConfig(
            f"t{i}",
            DIM,
            has_bias=True,
            optimizer=table_optimizer,
            initializer=InitializerConfig("uniform", 0.05, seed=i),
        )
        for i in range(SLOTS)
    )
    return ModelSpec(
        name="bench-deepfm",
        tables=tables,
        slots=tuple(SlotSpec(f"s{i}", f"t{i}") for i in range(SLOTS)),
        dense_features=DENSE,
        tower=TowerSpec("deepfm", HIDDEN),
        dense_optimizer=DenseOptimizerSpec("adagrad", LR),
    )


def make_batches(count: int, seed: int = 0) -> list[Batch]:
    """Criteo-like skewed ids as raw 63-bit fids (slot in the top 16 bits)."""
    rng = np.random.default_rng(seed)
    splits = np.arange(BATCH + 1, dtype=np.int64)
    out = []
    for _ in range(count):
        raw = rng.zipf(1.2, size=(SLOTS, BATCH)).astype(np.uint64)
        mixed = (raw * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(16)
        sparse = {}
        for i in range(SLOTS):
            fids = (np.uint64(i + 1) << np.uint64(47)) | mixed[i]
            sparse[f"s{i}"] = RaggedFids(fids.astype(np.int64), splits)
        out.append(
            Batch(
                sparse=sparse,
                dense=rng.normal(size=(BATCH, DENSE)).astype(np.float32),
                label=(rng.random(BATCH) < 0.25).astype(np.float32),
            )
        )
    return out


def interleaved(
    runners: dict[str, Callable[[int], None]], rounds: int, steps: int
) -> dict[str, float]:
    """Median seconds per step of each runner, interleaved round by round."""
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():
        run(3)  # warm-up: traces, allocator, first inserts
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            run(steps)
            samples[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(v) for name, v in samples.items()}


def ours_runner(
    make_backend: Callable[[], ComputeBackend], batches: list[Batch]
) -> tuple[Callable[[int], None], LocalCluster]:
    clock = SystemClock()
    cluster = LocalCluster(
        deepfm_spec(),
        num_ps=1,
        num_workers=1,
        store_factory=lambda shards: LocalParameterStore(shards),
        backend_factory=make_backend,
        clock=clock,
    )
    cluster.start()
    hooks = [
        NonFiniteLossGuard(),
        LoggingHook(clock, every_steps=10**9, progress_bar=False),
    ]
    position = [0]

    def run(steps: int) -> None:
        def source(index: int, count: int):  # type: ignore[no-untyped-def]
            for k in range(steps):
                yield batches[(position[0] + k) % len(batches)]

        start = cluster.global_step
        cluster.train(source, start_step=start, max_steps=start + steps, hooks=hooks)
        position[0] += steps

    return run, cluster


def torch_anchor(
    args: argparse.Namespace, batches: list[Batch]
) -> Callable[[int], None]:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)

    class Baseline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tables = torch.nn.ModuleList(
                torch.nn.EmbeddingBag(args.vocab, WIDTH, mode="sum", sparse=True)
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

        def forward(self, ids, offsets, dense):  # type: ignore[no-untyped-def]
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
    hashed = [
        [np.mod(b.sparse[f"s{i}"].values, args.vocab) for i in range(SLOTS)]
        for b in batches
    ]
    position = [0]

    def run(steps: int) -> None:
        for _ in range(steps):
            k = position[0] % len(batches)
            position[0] += 1
            ids = [torch.from_numpy(x) for x in hashed[k]]
            logits = model(ids, offsets, torch.from_numpy(batches[k].dense))
            loss = F.binary_cross_entropy_with_logits(
                logits, torch.from_numpy(batches[k].label)
            )
            sparse_opt.zero_grad()
            dense_opt.zero_grad()
            loss.backward()
            sparse_opt.step()
            dense_opt.step()

    return run


def tf_anchor(args: argparse.Namespace, batches: list[Batch]) -> Callable[[int], None]:
    import tensorflow as tf

    tables = [
        tf.Variable(
            tf.random.stateless_uniform([args.vocab, WIDTH], [0, i], -0.05, 0.05)
        )
        for i in range(SLOTS)
    ]
    accumulators = [tf.Variable(tf.fill([args.vocab, WIDTH], 0.1)) for _ in tables]
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
    def step(ids, dense, labels):  # type: ignore[no-untyped-def]
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

    hashed = [
        np.stack([np.mod(b.sparse[f"s{i}"].values, args.vocab) for i in range(SLOTS)])
        for b in batches
    ]
    position = [0]

    def run(steps: int) -> None:
        for _ in range(steps):
            k = position[0] % len(batches)
            position[0] += 1
            step(hashed[k], batches[k].dense, batches[k].label)

    return run


def profile_step(
    make_backend: Callable[[], ComputeBackend], batches: list[Batch], name: str
) -> None:
    """Where one step's time goes, phase by phase (median of 7 steps)."""
    spec = deepfm_spec()
    store = LocalParameterStore(1)
    store.create_tables(spec.tables)
    backend = make_backend()
    backend.build(spec)
    worker = WorkerStep(spec, store, backend, SystemClock())
    for k in range(3):
        worker.run(batches[k % len(batches)], k + 1)
    phases: dict[str, list[float]] = {
        "unique + store.lookup (26 slots)": [],
        "backend.compute_gradients": [],
        "store.apply_gradients (26 tables)": [],
        "backend.apply_dense_gradients": [],
    }
    for k in range(7):
        batch = batches[k % len(batches)]
        t0 = time.perf_counter()
        prepared = worker.prepare(batch)
        t1 = time.perf_counter()
        result = backend.compute_gradients(prepared.inputs, prepared.labels)
        t2 = time.perf_counter()
        worker._apply_sparse(prepared, result, 10 + k)
        t3 = time.perf_counter()
        backend.apply_dense_gradients(result.dense_grads)
        t4 = time.perf_counter()
        for key, seconds in zip(
            phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True
        ):
            phases[key].append(seconds)
    total = sum(statistics.median(v) for v in phases.values())
    print(f"\none-step profile, {name} (median ms of 7 steps, batch {BATCH}):")
    for key, values in phases.items():
        ms = 1e3 * statistics.median(values)
        print(f"  {key:36s} {ms:8.2f}  {100 * ms / (1e3 * total):5.1f}%")
    print(f"  {'total':36s} {1e3 * total:8.2f}")


def report(backend: str, times: dict[str, float], anchor: str) -> None:
    print(f"\n{backend}: examples/s (median of rounds, batch {BATCH})")
    print(f"  {'variant':34s} {'ms/step':>9s} {'ex/s':>10s} {'vs anchor':>10s}")
    for name, seconds in times.items():
        ratio = times[anchor] / seconds
        print(
            f"  {name:34s} {1e3 * seconds:9.2f} {BATCH / seconds:10.0f} {ratio:10.2f}"
        )
    ours_name = next(n for n in times if n.startswith("ours"))
    ours = BATCH / times[ours_name]
    base = BATCH / times[anchor]
    print(
        f"RESULT name=train_throughput_{backend} ours={ours:.0f} anchor={base:.0f} "
        f"unit=examples/s ratio={ours / base:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, small vocab")
    parser.add_argument("--backend", choices=["torch", "tf", "both"], default="both")
    parser.add_argument("--profile", action="store_true", help="one-step profile")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    args.vocab = args.vocab or (100_000 if args.quick else 1_000_000)
    args.steps = args.steps or (5 if args.quick else 20)
    args.rounds = args.rounds or (2 if args.quick else 3)
    batches = make_batches(16)
    print(
        f"train_throughput: DeepFM {SLOTS} slots dim {DIM}, MLP {HIDDEN}, "
        f"batch {BATCH}, anchor vocab {args.vocab}/slot, {args.threads} threads, "
        f"{args.rounds} rounds x {args.steps} steps"
    )
    if args.backend in ("torch", "both"):
        import torch

        from monolith.adapters.compute.torch_compute import TorchCompute

        torch.set_num_threads(args.threads)
        ours, cluster = ours_runner(TorchCompute, batches)
        times = interleaved(
            {
                "torch anchor (EmbeddingBag, hashed)": torch_anchor(args, batches),
                "ours (collisionless, LocalCluster)": ours,
            },
            args.rounds,
            args.steps,
        )
        cluster.stop()
        report("torch", times, "torch anchor (EmbeddingBag, hashed)")
        if args.profile:
            profile_step(TorchCompute, batches, "torch")
        gc.collect()
    if args.backend in ("tf", "both"):
        import tensorflow as tf

        from monolith.adapters.compute.tf_compute import TfCompute

        try:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        except RuntimeError:
            pass
        ours, cluster = ours_runner(TfCompute, batches)
        times = interleaved(
            {
                "tf anchor (tf.Variable tables)": tf_anchor(args, batches),
                "ours (collisionless, LocalCluster)": ours,
            },
            args.rounds,
            args.steps,
        )
        cluster.stop()
        report("tf", times, "tf anchor (tf.Variable tables)")
        if args.profile:
            profile_step(TfCompute, batches, "tf")


if __name__ == "__main__":
    main()
