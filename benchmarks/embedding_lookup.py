"""fid -> embedding lookups: our collisionless table against TF DenseHashTable.

Cases: 1M and 10M distinct fids drawn over the full 63-bit range, rows of dim
16 and 64, batches of 65,536 fids with 95% hits (the misses read as zeros).

* ours: ``EmbeddingTable.lookup`` (hash index find + gather + zero misses).
* anchor: ``tf.lookup.experimental.DenseHashTable`` (fid -> row index) then
  ``tf.gather`` from a values tensor, in a tf.function. Misses are clipped to
  row 0 rather than zeroed (the cheapest TF form; ours does zero them).
* also: key -> row alone for both, inserts, a Python dict baseline, and the
  numpy gather bound (``np.take`` of known rows, no hashing).

Run: ``python -m benchmarks.embedding_lookup [--quick]`` (quick: 200k fids,
dim 16 only). The RESULT line reports the fid -> embedding case with the
lowest ratio.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks._harness import Table, measure, parse_args, ratio, result_line
from monolith.domain.embedding.config import (
    InitializerConfig,
    OptimizerConfig,
    TableConfig,
)
from monolith.domain.embedding.table import EmbeddingTable

BATCH = 65_536
HIT_RATE = 0.95
INSERT_BATCH = 1 << 18

Keys = npt.NDArray[np.int64]


def make_keys(count: int, seed: int = 0) -> Keys:
    """``count`` distinct fids uniform over ``[0, 2**63 - 1)``, shuffled."""
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, 2**63 - 1, size=int(count * 1.001) + 10))
    rng.shuffle(keys)
    return keys[:count].astype(np.int64)


def make_queries(keys: Keys, seed: int = 1) -> Keys:
    """A batch with 95% present fids and 5% random (absent) ones."""
    rng = np.random.default_rng(seed)
    hits = int(BATCH * HIT_RATE)
    queries = np.concatenate(
        [
            keys[rng.integers(0, keys.size, hits)],
            rng.integers(0, 2**63 - 1, size=BATCH - hits, dtype=np.int64),
        ]
    )
    rng.shuffle(queries)
    return queries


def build_ours(keys: Keys, dim: int) -> tuple[EmbeddingTable, float]:
    """Our table holding ``keys``, grown batch by batch; and inserts/s."""
    config = TableConfig(
        "bench",
        dim=dim,
        initializer=InitializerConfig("zeros"),
        optimizer=OptimizerConfig("sgd"),
    )
    table = EmbeddingTable(config)
    values = np.random.default_rng(2).random((INSERT_BATCH, dim), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, keys.size, INSERT_BATCH):
        chunk = keys[start : start + INSERT_BATCH]
        table.assign(chunk, values[: chunk.size], 0.0)
    return table, keys.size / (time.perf_counter() - started)


class TfAnchor:
    """DenseHashTable fid -> row index, plus gather from a values tensor."""

    def __init__(self, tf: Any, keys: Keys) -> None:
        self.tf = tf
        self.table = tf.lookup.experimental.DenseHashTable(
            key_dtype=tf.int64,
            value_dtype=tf.int64,
            default_value=-1,
            empty_key=-1,
            deleted_key=-2,
        )
        started = time.perf_counter()
        for start in range(0, keys.size, INSERT_BATCH):
            chunk = keys[start : start + INSERT_BATCH]
            self.table.insert(
                tf.constant(chunk),
                tf.range(start, start + chunk.size, dtype=tf.int64),
            )
        self.insert_rate = keys.size / (time.perf_counter() - started)
        self.find = tf.function(self.table.lookup)
        self.values: Any = None

    def set_values(self, values: npt.NDArray[np.float32]) -> None:
        self.values = self.tf.constant(values)

    def embedder(self) -> Any:
        """A tf.function: fids -> rows (misses read row 0)."""
        tf = self.tf
        table, values = self.table, self.values

        @tf.function
        def embed(q: Any) -> Any:
            # Misses gather row 0 instead of zeros: the cheapest TF variant,
            # so the anchor errs on TF's side.
            return tf.gather(values, tf.maximum(table.lookup(q), 0))

        return embed


def rate(seconds: float) -> float:
    return BATCH / seconds / 1e6


def run_dim(
    anchor: TfAnchor, keys: Keys, queries: Keys, q_tf: Any, dim: int, repeat: int
) -> dict[str, float]:
    """Rates (M keys/s) for one table size and dim."""
    table, our_insert = build_ours(keys, dim)
    out = {"insert": our_insert / 1e6}
    out["find"] = rate(
        measure(lambda: table.contains(queries), repeat=repeat, number=5).median
    )
    out["ours"] = rate(
        measure(lambda: table.lookup(queries), repeat=repeat, number=5).median
    )
    anchor.set_values(np.random.default_rng(2).random((keys.size, dim), np.float32))
    embed = anchor.embedder()
    out["theirs"] = rate(
        measure(lambda: embed(q_tf).numpy(), repeat=repeat, number=5).median
    )
    values = table.lookup(keys[: min(keys.size, 1 << 20)])
    known = np.random.default_rng(3).integers(0, values.shape[0], BATCH)
    out["bound"] = rate(
        measure(lambda: np.take(values, known, axis=0), repeat=repeat, number=5).median
    )
    out["bytes_per_entry"] = table.nbytes / len(table)
    anchor.values = None
    return out


def run_size(
    tf: Any, count: int, dims: list[int], repeat: int, report: Table
) -> list[tuple[float, float, str]]:
    """Every case for one table size; returns (ours, anchor, case) per dim."""
    keys = make_keys(count)
    queries = make_queries(keys)
    anchor = TfAnchor(tf, keys)
    q_tf = tf.constant(queries)
    tf_find = rate(
        measure(lambda: anchor.find(q_tf).numpy(), repeat=repeat, number=5).median
    )
    cases = []
    for dim in dims:
        r = run_dim(anchor, keys, queries, q_tf, dim, repeat)
        gc.collect()
        if dim == dims[0]:
            report.add_row(
                count, "-", "key->row ours", r["find"], f"{r['find'] / tf_find:.2f}x"
            )
            report.add_row(count, "-", "key->row TF DenseHashTable", tf_find, "1.00x")
            tf_insert = anchor.insert_rate / 1e6
            report.add_row(
                count,
                "-",
                "insert ours (grow from empty)",
                r["insert"],
                f"{r['insert'] / tf_insert:.2f}x",
            )
            report.add_row(
                count, "-", "insert TF (grow from empty)", tf_insert, "1.00x"
            )
        report.add_row(
            count, dim, "fid->emb ours", r["ours"], f"{r['ours'] / r['theirs']:.2f}x"
        )
        report.add_row(count, dim, "fid->emb TF find+gather", r["theirs"], "1.00x")
        report.add_row(
            count,
            dim,
            "numpy gather bound (1M rows)",
            r["bound"],
            f"{r['bound'] / r['theirs']:.2f}x",
        )
        print(
            f"# fids={count} dim={dim} bytes/entry={r['bytes_per_entry']:.1f}",
            flush=True,
        )
        cases.append((r["ours"], r["theirs"], f"{count}x{dim}"))
    mapping = {k: i for i, k in enumerate(keys.tolist())}
    q_list = queries.tolist()
    dict_rate = rate(
        measure(
            lambda: np.fromiter((mapping.get(k, -1) for k in q_list), np.int64, BATCH),
            repeat=repeat,
        ).median
    )
    report.add_row(
        count, "-", "key->row Python dict", dict_rate, f"{dict_rate / tf_find:.2f}x"
    )
    return cases


def main() -> None:
    args = parse_args(__doc__ or "")
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    sizes = [200_000] if args.quick else [1_000_000, 10_000_000]
    dims = [16] if args.quick else [16, 64]
    report = Table(["fids", "dim", "method", "Mkeys/s", "vs TF"])
    cases = []
    for count in sizes:
        cases += run_size(tf, count, dims, args.repeat, report)
        gc.collect()
    report.print()
    worst = min(cases, key=lambda c: ratio(c[0], c[1]))
    for ours, theirs, name in cases:
        print(f"# fid->emb {name}: ratio {ratio(ours, theirs):.3f}", flush=True)
    print(f"# lowest ratio case fids x dim = {worst[2]}", flush=True)
    result_line("embedding_lookup", worst[0], worst[1], "Mkeys/s")


if __name__ == "__main__":
    main()
