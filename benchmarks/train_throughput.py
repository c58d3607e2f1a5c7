"""Training throughput of monolith's whole training loop vs hand-written baselines.

Model (PERF.md, training rows): DeepFM, 26 sparse slots of one id each, dim 16
(plus a bias column), 13 dense features, MLP 400-400-400, batch 1024, Adagrad.

- ours: :class:`~monolith.app.training.local_cluster.LocalCluster` training
  (what ``monolith train`` runs: worker thread, NaN guard and logging hooks,
  per-slot unique + one lookup_many call into the collisionless
  :class:`~monolith.adapters.parameters.local.LocalParameterStore`, the
  backend's forward/backward, sparse Adagrad on the store, dense Adagrad),
  fed pre-built batches of raw 63-bit fids, so input decoding is not timed.
- torch anchor: ``nn.EmbeddingBag(sparse=True)`` tables of ``--vocab`` rows
  per slot (fids hashed mod vocab) with ``torch.optim.Adagrad``.
- tf anchor: ``tf.function`` with ``tf.Variable`` tables,
  ``tf.nn.embedding_lookup`` and a hand-written sparse Adagrad.

Usage: ``python -m benchmarks.train_throughput [--quick] [--backend
torch|tf|both] [--profile] [--tables shared,per-slot]``.
Prints a table, an optional one-step profile, and one ``RESULT`` line per
backend and table layout (ratio = ours / anchor examples/s).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

import numpy as np

from benchmarks._deepfm import (
    BATCH,
    DENSE,
    DIM,
    HIDDEN,
    SLOTS,
    AnchorStep,
    Ids,
    deepfm_spec,
    report,
    set_tf_threads,
    tf_anchor_step,
    torch_anchor_step,
)
from monolith.adapters.clock.system import SystemClock
from monolith.adapters.parameters.local import LocalParameterStore
from monolith.app.training.hooks import LoggingHook, NonFiniteLossGuard
from monolith.app.training.local_cluster import LocalCluster
from monolith.app.training.step import WorkerStep
from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.fids import make_fids
from monolith.ports.compute import ComputeBackend


def make_batches(count: int, seed: int = 0) -> list[Batch]:
    """Criteo-like skewed ids as v2 fids: ``slot << 48 | 48-bit signature``."""
    rng = np.random.default_rng(seed)
    splits = np.arange(BATCH + 1, dtype=np.int64)
    out = []
    for _ in range(count):
        raw = rng.zipf(1.2, size=(SLOTS, BATCH)).astype(np.uint64)
        mixed = (raw * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(16)  # 48 bits
        sparse = {}
        for i in range(SLOTS):
            fids = make_fids(i + 1, mixed[i].astype(np.int64))
            sparse[f"s{i}"] = RaggedFids(fids, splits)
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
    make_backend: Callable[[], ComputeBackend],
    batches: list[Batch],
    shared: bool,
) -> tuple[Callable[[int], None], LocalCluster]:
    clock = SystemClock()
    cluster = LocalCluster(
        deepfm_spec(shared=shared),
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


def anchor_runner(
    step: AnchorStep, batches: list[Batch], vocab: int, *, stacked: bool
) -> Callable[[int], None]:
    """``run(steps)`` of an anchor step over ``batches``, fids hashed mod ``vocab``.

    The hashed ids of a batch are one list of per-slot arrays, or with
    ``stacked`` one ``[SLOTS, BATCH]`` array; both are built before timing.
    """
    hashed: list[Ids] = []
    for b in batches:
        rows = [np.mod(b.sparse[f"s{i}"].values, vocab) for i in range(SLOTS)]
        hashed.append(np.stack(rows) if stacked else rows)
    position = [0]

    def run(steps: int) -> None:
        for _ in range(steps):
            k = position[0] % len(batches)
            position[0] += 1
            step(hashed[k], batches[k].dense, batches[k].label)

    return run


def torch_anchor(
    args: argparse.Namespace, batches: list[Batch]
) -> Callable[[int], None]:
    return anchor_runner(
        torch_anchor_step(args.vocab), batches, args.vocab, stacked=False
    )


def tf_anchor(args: argparse.Namespace, batches: list[Batch]) -> Callable[[int], None]:
    return anchor_runner(tf_anchor_step(args.vocab), batches, args.vocab, stacked=True)


def profile_step(
    make_backend: Callable[[], ComputeBackend],
    batches: list[Batch],
    name: str,
    shared: bool,
) -> None:
    """Where one step's time goes, phase by phase (median of 7 steps)."""
    spec = deepfm_spec(shared=shared)
    store = LocalParameterStore(1)
    store.create_tables(spec.tables)
    backend = make_backend()
    backend.build(spec)
    worker = WorkerStep(spec, store, backend, SystemClock())
    for k, batch in enumerate(batches):  # every fid inserted: the steady state
        worker.run(batch, k + 1)
    tables = len(spec.tables)
    phases: dict[str, list[float]] = {
        f"unique + store.lookup_many ({tables} tables)": [],
        "backend.compute_gradients": [],
        f"store.apply_gradients_many ({tables} tables)": [],
        "backend.apply_dense_gradients": [],
    }
    for k in range(7):
        batch = batches[k % len(batches)]
        t0 = time.perf_counter()
        prepared = worker.prepare(batch)
        t1 = time.perf_counter()
        result = backend.compute_gradients(prepared.inputs, prepared.labels)
        t2 = time.perf_counter()
        worker.apply_sparse(prepared, result, len(batches) + 1 + k, 1000.0)
        t3 = time.perf_counter()
        backend.apply_dense_gradients(result.dense_grads)
        t4 = time.perf_counter()
        for key, seconds in zip(
            phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True
        ):
            phases[key].append(seconds)
    total = sum(statistics.median(v) for v in phases.values())
    print(
        f"\none-step profile, {name}, {tables} tables "
        f"(median ms of 7 steps, batch {BATCH}):"
    )
    for key, values in phases.items():
        ms = 1e3 * statistics.median(values)
        print(f"  {key:42s} {ms:8.2f}  {100 * ms / (1e3 * total):5.1f}%")
    print(f"  {'total':42s} {1e3 * total:8.2f}")


def compare(
    args: argparse.Namespace,
    batches: list[Batch],
    backend: str,
    make_backend: Callable[[], ComputeBackend],
    anchor_name: str,
    anchor: Callable[[argparse.Namespace, list[Batch]], Callable[[int], None]],
) -> None:
    """Ours vs the anchor on one backend, interleaved; the table and RESULT lines.

    Each table layout asked for runs beside the anchor; the first one named
    in ``--tables`` gives the ``train_throughput_<backend>`` line.
    """
    runners = {anchor_name: anchor(args, batches)}
    clusters = []
    for layout in args.tables:
        run, cluster = ours_runner(make_backend, batches, layout == "shared")
        runners[OURS[layout]] = run
        clusters.append(cluster)
    times = interleaved(runners, args.rounds, args.steps)
    for cluster in clusters:
        cluster.stop()
    report("train_throughput", backend, times, anchor_name, 36)
    for layout in args.tables[1:]:
        ratio = times[anchor_name] / times[OURS[layout]]
        print(
            f"RESULT name=train_throughput_{backend}_{layout.replace('-', '_')} "
            f"ours={BATCH / times[OURS[layout]]:.0f} "
            f"anchor={BATCH / times[anchor_name]:.0f} unit=examples/s "
            f"ratio={ratio:.2f}"
        )
    if args.profile:
        for layout in args.tables:
            profile_step(make_backend, batches, backend, layout == "shared")


OURS = {
    "shared": "ours (collisionless, shared table)",
    "per-slot": "ours (collisionless, table per slot)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, small vocab")
    parser.add_argument("--backend", choices=["torch", "tf", "both"], default="both")
    parser.add_argument("--profile", action="store_true", help="one-step profile")
    parser.add_argument(
        "--tables",
        default="shared,per-slot",
        help="table layouts of ours, comma-separated: shared (one table for "
        "the 26 slots, collisionless with v2 fids) and per-slot",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    args.tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = sorted(set(args.tables) - set(OURS))
    if unknown or not args.tables:
        parser.error(f"--tables takes shared and/or per-slot, got {unknown}")
    args.vocab = args.vocab or (100_000 if args.quick else 1_000_000)
    args.steps = args.steps or (5 if args.quick else 20)
    args.rounds = args.rounds or (2 if args.quick else 5)
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
        compare(
            args,
            batches,
            "torch",
            TorchCompute,
            "torch anchor (EmbeddingBag, hashed)",
            torch_anchor,
        )
        gc.collect()
    if args.backend in ("tf", "both"):
        from monolith.adapters.compute.tf_compute import TfCompute

        set_tf_threads(args.threads)
        compare(
            args, batches, "tf", TfCompute, "tf anchor (tf.Variable tables)", tf_anchor
        )


if __name__ == "__main__":
    main()
