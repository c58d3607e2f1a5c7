"""TFRecord reading: our reader and pipeline against ``tf.data`` on the same files.

Cases (CRCs checked on both sides):

* raw 100-byte and 1 KB records: our chunked reader (``iter_record_chunks``)
  against ``tf.data.TFRecordDataset(...).batch(1024)``;
* Criteo-shaped ``tf.train.Example`` records (26 sparse slots of one v2 fid,
  13 dense floats, a label) parsed into batches of 1024: our
  ``make_batches`` (reader + vectorised decoder) against
  ``TFRecordDataset.batch(1024).map(tf.io.parse_example)`` with the sparse
  slots as ``RaggedFeature`` (the same ragged output).

Run: ``python -m benchmarks.tfrecord_read [--quick]``. Figures are thousand
records (or examples) per second; higher is better. The last line is the
headline, Criteo parsing (target ratio >= 0.5, and >= 2x the ~23 k ex/s one
DeepFM training process consumes, see ../shared/design/PERF.md).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import numpy as np

from benchmarks._harness import (
    Table,
    Timing,
    format_result,
    measure,
    parse_args,
    ratio,
)
from monolith.adapters.data.example_encode import ExampleEncoder
from monolith.adapters.data.tfrecord import iter_record_chunks, write_records
from monolith.adapters.storage.local import LocalFileSystem
from monolith.app.data.pipeline import make_batches
from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.fids import make_fids

BATCH = 1024
TRAINING_EX_PER_S = 23_400  # DeepFM torch training, PERF.md
SPEC = FeatureSpec(
    sparse=tuple(f"C{i}" for i in range(1, 27)),
    dense=tuple(f"I{i}" for i in range(1, 14)),
    label="label",
)


def criteo_records(rows: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    splits = np.arange(rows + 1, dtype=np.int64)
    sparse = {
        name: RaggedFids(
            make_fids(
                s + 1, rng.integers(0, 1_000_000, size=rows, dtype=np.int64) * 7919
            ),
            splits,
        )
        for s, name in enumerate(SPEC.sparse)
    }
    dense = np.log1p(rng.exponential(10.0, size=(rows, 13))).astype(np.float32)
    label = (rng.random(rows) < 0.25).astype(np.float32)
    return ExampleEncoder(SPEC).encode(Batch(sparse=sparse, dense=dense, label=label))


def ours_raw(fs: LocalFileSystem, path: str) -> int:
    return sum(len(c) for c in iter_record_chunks(fs, path, compression=""))


def ours_criteo(fs: LocalFileSystem, path: str) -> int:
    return sum(b.size for b in make_batches(fs, path, SPEC, BATCH, compression=""))


def interleaved(
    ours: Callable[[], object], anchor: Callable[[], object], repeat: int
) -> tuple[Timing, Timing]:
    """Time both sides alternately, so load drift on a shared box hits both."""
    ours()
    anchor()
    ours_runs, anchor_runs = [], []
    for _ in range(repeat):
        ours_runs.append(measure(ours, repeat=1, warmup=0).runs[0])
        anchor_runs.append(measure(anchor, repeat=1, warmup=0).runs[0])
    return Timing(tuple(ours_runs)), Timing(tuple(anchor_runs))


def main() -> None:
    args = parse_args("TFRecord read throughput against tf.data")
    import tensorflow as tf

    scale = 1 if args.quick else 4
    cases = [
        ("raw_100b", [os.urandom(100) for _ in range(100_000 * scale)]),
        ("raw_1kb", [os.urandom(1000) for _ in range(15_000 * scale)]),
        ("criteo", criteo_records(25_000 * scale)),
    ]
    features: dict[str, object] = {
        s: tf.io.RaggedFeature(tf.int64) for s in SPEC.sparse
    }
    features.update({d: tf.io.FixedLenFeature([], tf.float32) for d in SPEC.dense})
    features["label"] = tf.io.FixedLenFeature([], tf.float32)

    def tf_raw(path: str) -> int:
        return sum(int(b.shape[0]) for b in tf.data.TFRecordDataset(path).batch(BATCH))

    def tf_criteo(path: str) -> int:
        dataset = (
            tf.data.TFRecordDataset(path)
            .batch(BATCH)
            .map(lambda x: tf.io.parse_example(x, features))
        )
        return sum(int(b["label"].shape[0]) for b in dataset)

    fs = LocalFileSystem()
    table = Table(["case", "records", "ours_krec_s", "tf_data_krec_s", "ratio"])
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, records in cases:
            path = os.path.join(tmp, f"{name}.tfrecord")
            write_records(fs, path, records)
            count = len(records)
            if name == "criteo":
                assert ours_criteo(fs, path) == count == tf_criteo(path)
                ours, anchor = interleaved(
                    lambda p=path: ours_criteo(fs, p),
                    lambda p=path: tf_criteo(p),
                    args.repeat,
                )
            else:
                assert ours_raw(fs, path) == count == tf_raw(path)
                ours, anchor = interleaved(
                    lambda p=path: ours_raw(fs, p),
                    lambda p=path: tf_raw(p),
                    args.repeat,
                )
            ours_rate = count / ours.median / 1000
            anchor_rate = count / anchor.median / 1000
            table.add_row(
                name,
                str(count),
                ours_rate,
                anchor_rate,
                f"{ratio(ours_rate, anchor_rate):.3f}",
            )
            lines.append((name, ours_rate, anchor_rate))
    table.print()
    criteo_rate = next(o for n, o, _ in lines if n == "criteo")
    print(
        f"criteo parsed batches: {criteo_rate * 1000:.0f} ex/s = "
        f"{criteo_rate * 1000 / TRAINING_EX_PER_S:.2f}x the ~{TRAINING_EX_PER_S} ex/s "
        "one DeepFM training process consumes (PERF.md)",
        flush=True,
    )
    for name, ours_rate, anchor_rate in lines:
        if name != "criteo":
            print(
                format_result(f"tfrecord_read_{name}", ours_rate, anchor_rate, "krec/s")
            )
    criteo = next(line for line in lines if line[0] == "criteo")
    print(format_result("tfrecord_read", criteo[1], criteo[2], "kex/s"), flush=True)


if __name__ == "__main__":
    main()
