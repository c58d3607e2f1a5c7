"""Collisionless tables vs hashed-bucket tables at a 1:8 bucket ratio.

This repeats the collision experiment of the Monolith paper (Table 1 and
Fig. 7) on datagen data: the same DeepFM, trained the same way, once with
collisionless tables (every fid its own row) and once with each table folded
into ``ceil(distinct fids / 8)`` buckets (``fid mod buckets``), so about
eight fids share a row. Both are evaluated on the held-out split.

Usage: ``python -m benchmarks.collisions [--quick] [--backend torch|tf]``.
The last line is ``RESULT name=collisions ours=<auc collisionless>
anchor=<auc hashed> unit=auc ratio=<ours/anchor>`` (above 1: collisionless
wins).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

import numpy as np

from monolith.adapters.storage.local import LocalFileSystem
from monolith.app.data.datagen import generate
from monolith.app.data.pipeline import make_batches
from monolith.app.training.session import train_from_config
from monolith.app.training.step import hashed_buckets
from monolith.domain.config import RunConfig
from monolith.domain.feature_spec import FeatureSpec

TASK = "examples.ctr.DeepFM"
RATIO = 8


def distinct_fids(pattern: str, features: FeatureSpec) -> dict[str, int]:
    """Distinct fids per slot (= per table for DeepFM) in the training data."""
    seen: dict[str, set[int]] = {slot: set() for slot in features.sparse}
    for batch in make_batches(LocalFileSystem(), pattern, features, 65536):
        for slot in features.sparse:
            seen[slot].update(np.unique(batch.sparse[slot].values).tolist())
    return {slot: len(fids) for slot, fids in seen.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40k rows, 200 steps")
    parser.add_argument("--backend", choices=["torch", "tf"], default="torch")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument(
        "--vocab-size", type=int, default=None, help="fids per slot (datagen default)"
    )
    args = parser.parse_args()
    rows = args.rows or (40_000 if args.quick else 200_000)
    steps = args.steps or (200 if args.quick else 600)
    work = tempfile.mkdtemp(prefix="monolith-collisions-")
    fs = LocalFileSystem()
    extra = {} if args.vocab_size is None else {"vocab_size": args.vocab_size}
    meta = generate(fs, f"{work}/data", rows, seed=0, **extra).meta
    features = FeatureSpec.from_dict(meta["feature_spec"])
    distinct = distinct_fids(str(meta["train_pattern"]), features)
    buckets = {slot: max(1, math.ceil(n / RATIO)) for slot, n in distinct.items()}
    print(
        f"collisions: datagen {rows} rows, {len(features.sparse)} slots, "
        f"vocab {meta['vocab_size']}/slot, DeepFM on {args.backend}, {steps} steps "
        f"of 512, buckets = distinct fids / {RATIO}"
    )
    results: dict[str, float] = {}
    for name, transform in (
        ("collisionless", None),
        (f"hashed 1:{RATIO}", hashed_buckets(buckets)),
    ):
        config = RunConfig(
            task=TASK,
            backend=args.backend,
            data=str(meta["train_pattern"]),
            eval_data=str(meta["eval_pattern"]),
            model_dir=f"{work}/{name.replace(' ', '_').replace(':', '-')}",
            steps=steps,
            batch_size=512,
            save_summary_steps=0,
        )
        start = time.perf_counter()
        report = train_from_config(config.to_runner_config(), fid_transform=transform)
        assert report.evaluation is not None and report.evaluation.auc is not None
        results[name] = report.evaluation.auc
        print(
            f"  {name:16s} auc={report.evaluation.auc:.4f} "
            f"logloss={report.evaluation.logloss:.4f} "
            f"secs={time.perf_counter() - start:.0f}"
        )
    print(f"  {'optimum':16s} auc={meta['bayes_auc_eval']:.4f}")
    print(
        "  distinct fids per table: "
        + ", ".join(f"{s}={n}->{buckets[s]}" for s, n in distinct.items())
    )
    ours = results["collisionless"]
    anchor = results[f"hashed 1:{RATIO}"]
    print(
        f"RESULT name=collisions ours={ours:.4f} anchor={anchor:.4f} unit=auc "
        f"ratio={ours / anchor:.3f}"
    )


if __name__ == "__main__":
    main()
