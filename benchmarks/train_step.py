"""One DeepFM training step of our compute backends vs hand-written baselines.

Model (PERF.md, training rows): 26 sparse slots of one id each, dim 16 plus a
bias column, 13 dense features, FM + MLP 400-400-400, batch 1024, 2 threads.

- torch anchor: ``nn.EmbeddingBag(sparse=True)`` tables of ``--vocab`` rows
  per slot (ids hashed mod vocab) + ``torch.optim.Adagrad``.
- tf anchor: ``tf.function`` with ``tf.Variable`` tables,
  ``tf.nn.embedding_lookup`` and a hand-written sparse Adagrad.
- ours: ``TorchCompute`` / ``TfCompute`` ``compute_gradients`` +
  ``apply_dense_gradients`` on prepared :class:`TowerInputs` (unique rows per
  slot). The table side (lookup, sparse update) is not ours here: it belongs
  to the parameter store, and ``train_throughput`` measures the whole loop.
  The table also shows "ours + numpy table": the same step plus a numpy
  unique/gather/Adagrad-scatter on fixed tables, a rough full-step estimate.

Usage: ``python -m benchmarks.train_step [--quick] [--backend torch|tf|both]
[--profile]``. Prints a table and one ``RESULT`` line per backend.
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
    LR,
    SLOTS,
    WIDTH,
    deepfm_spec,
    report,
    set_tf_threads,
    tf_anchor_step,
    torch_anchor_step,
)
from monolith.ports.compute import ComputeBackend, SlotInput, TowerInputs


def make_batches(count: int, vocab: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Criteo-like skewed ids: ``[SLOTS, BATCH]`` int64 plus dense and labels."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        raw = rng.zipf(1.2, size=(SLOTS, BATCH)).astype(np.int64)
        ids = (raw * 2654435761 + np.arange(SLOTS)[:, None] * 97) % vocab
        out.append(
            {
                "ids": ids,
                "dense": rng.normal(size=(BATCH, DENSE)).astype(np.float32),
                "label": (rng.random(BATCH) < 0.25).astype(np.float32),
            }
        )
    return out


def tower_inputs(
    batch: dict[str, np.ndarray], tables: list[np.ndarray]
) -> tuple[TowerInputs, list[np.ndarray]]:
    splits = np.arange(BATCH + 1, dtype=np.int64)
    slots = {}
    uniques = []
    for i in range(SLOTS):
        unique, inverse = np.unique(batch["ids"][i], return_inverse=True)
        uniques.append(unique)
        slots[f"s{i}"] = SlotInput(tables[i][unique], inverse.astype(np.int64), splits)
    return TowerInputs(slots, batch["dense"]), uniques


def timed_rounds(
    runners: dict[str, Callable[[int], None]], rounds: int, steps: int
) -> dict[str, float]:
    """Median seconds per step of each runner, interleaved round by round."""
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():
        run(0)  # warm-up (traces, allocator)
        run(1)
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            for step in range(steps):
                run(step)
            samples[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(v) for name, v in samples.items()}


def ours_runners(
    backend: ComputeBackend, batches: list[dict[str, np.ndarray]], vocab: int
) -> dict[str, Callable[[int], None]]:
    rng = np.random.default_rng(1)
    tables = [
        rng.uniform(-0.05, 0.05, (vocab, WIDTH)).astype(np.float32)
        for _ in range(SLOTS)
    ]
    accumulators = [np.full_like(t, 0.1) for t in tables]
    prepared = [tower_inputs(b, tables)[0] for b in batches]

    def backend_step(step: int) -> None:
        i = step % len(batches)
        result = backend.compute_gradients(prepared[i], batches[i]["label"])
        backend.apply_dense_gradients(result.dense_grads)

    def full_step(step: int) -> None:
        batch = batches[step % len(batches)]
        inputs, uniques = tower_inputs(batch, tables)
        result = backend.compute_gradients(inputs, batch["label"])
        backend.apply_dense_gradients(result.dense_grads)
        for i, unique in enumerate(uniques):
            grad = result.slot_grads[f"s{i}"]
            acc = accumulators[i][unique] + grad * grad
            accumulators[i][unique] = acc
            tables[i][unique] -= LR * grad / np.sqrt(acc)

    return {"ours": backend_step, "ours + numpy table": full_step}


def torch_section(
    args: argparse.Namespace, batches: list[dict[str, np.ndarray]]
) -> dict[str, float]:
    import torch

    from monolith.adapters.compute.torch_compute import TorchCompute

    torch.set_num_threads(args.threads)
    torch.sparse.check_sparse_tensor_invariants.disable()
    anchor = torch_anchor_step(args.vocab)

    def anchor_step(step: int) -> None:
        batch = batches[step % len(batches)]
        anchor(batch["ids"], batch["dense"], batch["label"])

    backend = TorchCompute()
    backend.build(deepfm_spec(clip_norm=0.0))
    runners = {
        "torch anchor": anchor_step,
        **ours_runners(backend, batches, args.vocab),
    }
    result = timed_rounds(runners, args.rounds, args.steps)
    if args.profile:
        profile_torch(backend, batches, args.vocab)
    return result


def profile_torch(
    backend: ComputeBackend, batches: list[dict[str, np.ndarray]], vocab: int
) -> None:
    from torch.profiler import ProfilerActivity, profile

    inputs = phase_breakdown(backend, batches, vocab, "torch", prepare=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        result = backend.compute_gradients(inputs, batches[0]["label"])
        backend.apply_dense_gradients(result.dense_grads)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def phase_breakdown(
    backend: ComputeBackend,
    batches: list[dict[str, np.ndarray]],
    vocab: int,
    name: str,
    *,
    prepare: bool,
) -> TowerInputs:
    """Print the median ms of each phase of 5 steps; the first batch's inputs.

    With ``prepare`` the unique + gather that builds the inputs is a timed
    phase of every step; without, the inputs are built once, untimed.
    """
    rng = np.random.default_rng(2)
    tables = [
        rng.uniform(-0.05, 0.05, (vocab, WIDTH)).astype(np.float32)
        for _ in range(SLOTS)
    ]
    inputs, _ = tower_inputs(batches[0], tables)
    phases: dict[str, list[float]] = {}
    if prepare:
        phases["prepare inputs (unique+gather)"] = []
    phases["compute_gradients"] = []
    phases["apply_dense_gradients"] = []
    for _ in range(5):
        t0 = time.perf_counter()
        if prepare:
            inputs, _ = tower_inputs(batches[0], tables)
        t1 = time.perf_counter()
        result = backend.compute_gradients(inputs, batches[0]["label"])
        t2 = time.perf_counter()
        backend.apply_dense_gradients(result.dense_grads)
        t3 = time.perf_counter()
        if prepare:
            phases["prepare inputs (unique+gather)"].append(t1 - t0)
        phases["compute_gradients"].append(t2 - t1)
        phases["apply_dense_gradients"].append(t3 - t2)
    print(f"\nphase breakdown, {name} (median ms):")
    for phase, values in phases.items():
        print(f"  {phase:34s} {1e3 * statistics.median(values):7.2f}")
    return inputs


def tf_section(
    args: argparse.Namespace, batches: list[dict[str, np.ndarray]]
) -> dict[str, float]:
    from monolith.adapters.compute.tf_compute import TfCompute

    set_tf_threads(args.threads)
    anchor = tf_anchor_step(args.vocab)

    def anchor_step(step: int) -> None:
        batch = batches[step % len(batches)]
        anchor(batch["ids"], batch["dense"], batch["label"])

    backend = TfCompute()
    backend.build(deepfm_spec(clip_norm=0.0))
    runners = {"tf anchor": anchor_step, **ours_runners(backend, batches, args.vocab)}
    result = timed_rounds(runners, args.rounds, args.steps)
    if args.profile:
        phase_breakdown(backend, batches, args.vocab, "tf", prepare=False)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small tables, few steps")
    parser.add_argument("--backend", choices=["torch", "tf", "both"], default="both")
    parser.add_argument(
        "--profile", action="store_true", help="print a one-step profile"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    args.vocab = args.vocab or (100_000 if args.quick else 1_000_000)
    args.steps = args.steps or (3 if args.quick else 10)
    args.rounds = args.rounds or (3 if args.quick else 5)
    batches = make_batches(8, args.vocab)
    print(
        f"train_step: DeepFM {SLOTS} slots dim {DIM}, MLP {HIDDEN}, batch {BATCH}, "
        f"vocab {args.vocab}/slot, {args.threads} threads, "
        f"{args.rounds} rounds x {args.steps} steps"
    )
    if args.backend in ("torch", "both"):
        report("train_step", "torch", torch_section(args, batches), "torch anchor", 24)
        gc.collect()
    if args.backend in ("tf", "both"):
        report("train_step", "tf", tf_section(args, batches), "tf anchor", 24)


if __name__ == "__main__":
    main()
