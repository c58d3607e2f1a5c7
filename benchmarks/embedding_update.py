"""Adagrad ``apply_gradients``, table memory, and snapshot save/restore.

* update: ``LocalParameterStore.apply_gradients`` (one shard, Adagrad, dim
  16) on batches of 65,536 distinct present fids, against TF: DenseHashTable
  find, gather, the Adagrad math, then scatter back, both with
  ``tf.tensor_scatter_nd_update`` (copies the tensor) and with in-place
  ``Variable.scatter_nd_update``; the faster TF form is the anchor. The numpy
  scatter bound does the same math on known rows (no hashing).
* memory: bytes per entry of the grown table (dim 16 + Adagrad) against the
  raw payload, 8 + 4*16 + 4*16 = 136 bytes; target <= 1.3x (177 B).
* snapshot: ``store.snapshot`` / ``store.restore`` through the local file
  system (CRC-32C, fsync, atomic rename) against ``np.save`` + fsync /
  ``np.load`` of the same arrays (keys, values, state, timestamps); both
  restores read from a cold page cache (files evicted after each save);
  the best of the interleaved runs of each side counts.

Run: ``python -m benchmarks.embedding_update [--quick]`` (quick: 200k fids;
full: 1M and 10M). RESULT lines: snapshot_save, snapshot_restore,
table_memory (each at the largest size), then embedding_update (lowest ratio).
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import tempfile
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks._harness import Table, measure, parse_args, ratio, result_line
from benchmarks.embedding_lookup import make_keys
from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.storage.local import LocalFileSystem
from monolith.domain.embedding.config import OptimizerConfig, TableConfig

BATCH = 65_536
DIM = 16
LR = 0.05
RAW_PAYLOAD = 8 + 4 * DIM + 4 * DIM
GROW_BATCH = 1 << 18

Keys = npt.NDArray[np.int64]


def build_store(keys: Keys, fs: LocalFileSystem) -> tuple[LocalParameterStore, float]:
    """A one-shard store grown by apply_gradients; returns it and inserts/s."""
    store = LocalParameterStore(1, fs=fs)
    config = TableConfig("emb", dim=DIM, optimizer=OptimizerConfig("adagrad", LR))
    store.create_tables([config])
    grads = np.full((GROW_BATCH, DIM), 0.01, np.float32)
    started = time.perf_counter()
    for start in range(0, keys.size, GROW_BATCH):
        chunk = keys[start : start + GROW_BATCH]
        store.apply_gradients("emb", chunk, grads[: chunk.size], 1, 1000.0)
    return store, keys.size / (time.perf_counter() - started)


class TfAdagrad:
    """DenseHashTable + Adagrad on gathered rows, scattered back two ways."""

    def __init__(self, tf: Any, keys: Keys) -> None:
        self.tf = tf
        table = tf.lookup.experimental.DenseHashTable(
            tf.int64, tf.int64, default_value=-1, empty_key=-1, deleted_key=-2
        )
        for start in range(0, keys.size, GROW_BATCH):
            chunk = keys[start : start + GROW_BATCH]
            table.insert(
                tf.constant(chunk), tf.range(start, start + chunk.size, dtype=tf.int64)
            )
        n = keys.size
        init = np.random.default_rng(0).uniform(-0.05, 0.05, (n, DIM))
        self.w_var = tf.Variable(init.astype(np.float32))
        self.acc_var = tf.Variable(tf.fill((n, DIM), 0.1))
        self.w = tf.constant(init.astype(np.float32))
        self.acc = tf.fill((n, DIM), 0.1)
        self.table = table

        @tf.function
        def in_place(q: Any, g: Any) -> None:
            idx = table.lookup(q)
            where = idx[:, None]
            acc = tf.gather(self.acc_var, idx) + g * g
            self.acc_var.scatter_nd_update(where, acc)
            w = tf.gather(self.w_var, idx) - LR * g / tf.sqrt(acc)
            self.w_var.scatter_nd_update(where, w)

        @tf.function
        def functional(q: Any, g: Any, w_all: Any, acc_all: Any) -> Any:
            idx = table.lookup(q)
            where = idx[:, None]
            acc = tf.gather(acc_all, idx) + g * g
            w = tf.gather(w_all, idx) - LR * g / tf.sqrt(acc)
            return (
                tf.tensor_scatter_nd_update(w_all, where, w),
                tf.tensor_scatter_nd_update(acc_all, where, acc),
            )

        self.in_place = in_place
        self.functional = functional

    def step_functional(self, q: Any, g: Any) -> None:
        self.w, self.acc = self.functional(q, g, self.w, self.acc)
        self.acc.numpy()[:1]  # wait for the result


def _rows(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return array.view(np.dtype((np.void, array.shape[1] * 4))).reshape(-1)


def numpy_bound(
    w: npt.NDArray[np.float32], acc: npt.NDArray[np.float32], rows: Any, g: Any
) -> None:
    """The same Adagrad step on known rows: np.take + np.put of whole rows."""
    a = np.take(acc, rows, axis=0)
    a += g * g
    np.put(_rows(acc), rows, _rows(a))
    new = np.take(w, rows, axis=0) - LR * g / np.sqrt(a)
    np.put(_rows(w), rows, _rows(new))


def measure_tf(
    tf: Any, keys: Keys, batch: Keys, grads: Any, repeat: int
) -> dict[str, float]:
    anchor = TfAdagrad(tf, keys)
    q_tf, g_tf = tf.constant(batch), tf.constant(grads)
    in_place = measure(lambda: anchor.in_place(q_tf, g_tf), repeat=repeat, number=3)
    functional = measure(
        lambda: anchor.step_functional(q_tf, g_tf), repeat=repeat, number=3
    )
    return {
        "tf_in_place": BATCH / in_place.median / 1e6,
        "tf_functional": BATCH / functional.median / 1e6,
    }


def measure_bound(count: int, grads: Any, repeat: int) -> float:
    rng = np.random.default_rng(7)
    w = rng.uniform(-0.05, 0.05, (count, DIM)).astype(np.float32)
    acc = np.full((count, DIM), 0.1, np.float32)
    rows = rng.choice(count, BATCH, replace=False)
    bound = measure(lambda: numpy_bound(w, acc, rows, grads), repeat=repeat, number=3)
    return BATCH / bound.median / 1e6


def measure_snapshot(
    store: LocalParameterStore, keys: Keys, repeat: int
) -> dict[str, float]:
    """Save/restore against np.save/np.load, interleaved run by run so that
    drift on a shared machine hits both sides alike; the best run of each.

    Best, not median: cold reads on this VM's virtual disk swing by 3-5x from
    one 640 MB file to the next (the host's I/O, seen with plain ``read``
    loops too), and that noise only ever adds time. The fastest run of each
    side is the one least disturbed, on both sides alike.

    Fairness: both sides persist the same table data (keys, values, optimizer
    state, timestamps), both fsync every file and their directories on save,
    and both restore from a cold page cache: after every save the files just
    written are dropped from the cache (``POSIX_FADV_DONTNEED``), so neither
    side reads what the other evicted. The order of ours and the anchor
    alternates from round to round. GB/s counts the table data on both sides,
    whatever else our snapshot writes (checksums, ...).
    """
    count = keys.size
    ours_dir = tempfile.mkdtemp(prefix="snap-ours-")
    anchor_dir = tempfile.mkdtemp(prefix="snap-np-")
    exported = {
        "keys": keys,
        "values": store.lookup("emb", keys),
        "state": np.full((count, DIM), 0.1, np.float32),
        "timestamps": np.full(count, 2000, np.uint32),
    }
    nbytes = sum(a.nbytes for a in exported.values())
    runs: dict[str, list[float]] = {
        "save": [],
        "np_save": [],
        "restore": [],
        "np_load": [],
    }
    ours = {
        "save": lambda: store.snapshot(ours_dir),
        "restore": lambda: store.restore(ours_dir),
    }
    anchor = {
        "np_save": lambda: save_anchor(anchor_dir, exported),
        "np_load": lambda: load_anchor(anchor_dir, list(exported)),
    }
    try:
        for attempt in range(repeat + 1):
            sides = [ours, anchor] if attempt % 2 else [anchor, ours]
            for side in sides:
                for name, step in side.items():
                    if name in ("restore", "np_load"):
                        evict_tree(ours_dir)
                        evict_tree(anchor_dir)
                    started = time.perf_counter()
                    step()
                    if attempt:  # the first round warms up
                        runs[name].append(time.perf_counter() - started)
        if store.tables()[0].rows != count:
            raise RuntimeError("restore lost rows")
    finally:
        shutil.rmtree(ours_dir, ignore_errors=True)
        shutil.rmtree(anchor_dir, ignore_errors=True)
    return {name: nbytes / min(t) / 1e9 for name, t in runs.items()}


def evict_tree(directory: str) -> None:
    """Drop every file below ``directory`` from the page cache (no root needed)."""
    for parent, _dirs, files in os.walk(directory):
        for name in files:
            fd = os.open(os.path.join(parent, name), os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_anchor(directory: str, arrays: dict[str, npt.NDArray[Any]]) -> None:
    """np.save each array, fsync each file, then the directory once."""
    for name, array in arrays.items():
        with open(os.path.join(directory, f"{name}.npy"), "wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
    _fsync_dir(directory)


def load_anchor(directory: str, names: list[str]) -> list[npt.NDArray[Any]]:
    return [
        np.load(os.path.join(directory, f"{n}.npy"), allow_pickle=False) for n in names
    ]


def run_size(tf: Any, count: int, repeat: int, report: Table) -> dict[str, float]:
    keys = make_keys(count)
    store, grow_rate = build_store(keys, LocalFileSystem())
    rng = np.random.default_rng(5)
    batch = keys[rng.choice(count, BATCH, replace=False)]
    grads = rng.normal(0, 0.01, (BATCH, DIM)).astype(np.float32)
    out: dict[str, float] = {"grow": grow_rate / 1e6}
    ours = measure(
        lambda: store.apply_gradients("emb", batch, grads, 2, 2000.0),
        repeat=repeat,
        number=3,
    )
    out["ours"] = BATCH / ours.median / 1e6
    out["bytes"] = store.memory_bytes() / count
    out.update(measure_tf(tf, keys, batch, grads, repeat))
    gc.collect()
    out["bound"] = measure_bound(count, grads, repeat)
    gc.collect()
    out.update(measure_snapshot(store, keys, repeat))

    tf_best = max(out["tf_in_place"], out["tf_functional"])
    report.add_row(
        count,
        "apply_gradients ours (Mrows/s)",
        out["ours"],
        f"{out['ours'] / tf_best:.2f}x",
    )
    report.add_row(
        count,
        "TF find+Variable.scatter_nd_update",
        out["tf_in_place"],
        f"{out['tf_in_place'] / tf_best:.2f}x",
    )
    report.add_row(
        count,
        "TF find+tensor_scatter_nd_update",
        out["tf_functional"],
        f"{out['tf_functional'] / tf_best:.2f}x",
    )
    report.add_row(
        count,
        "numpy scatter bound (no hashing)",
        out["bound"],
        f"{out['bound'] / tf_best:.2f}x",
    )
    report.add_row(count, "insert+update, growing (Mrows/s)", out["grow"], "-")
    report.add_row(
        count,
        "bytes/entry ours (raw 136)",
        out["bytes"],
        f"{out['bytes'] / RAW_PAYLOAD:.2f}x raw",
    )
    report.add_row(
        count,
        "snapshot save ours (GB/s)",
        out["save"],
        f"{out['save'] / out['np_save']:.2f}x",
    )
    report.add_row(count, "np.save + fsync (GB/s)", out["np_save"], "1.00x")
    report.add_row(
        count,
        "restore ours (GB/s)",
        out["restore"],
        f"{out['restore'] / out['np_load']:.2f}x",
    )
    report.add_row(count, "np.load (GB/s)", out["np_load"], "1.00x")
    out["tf_best"] = tf_best
    store.close()
    return out


def main() -> None:
    args = parse_args(__doc__ or "")
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    sizes = [200_000] if args.quick else [1_000_000, 10_000_000]
    report = Table(["fids", "measure", "value", "vs anchor"])
    results = [run_size(tf, count, args.repeat, report) for count in sizes]
    report.print()
    last = results[-1]
    result_line("snapshot_save", last["save"], last["np_save"], "GB/s")
    result_line("snapshot_restore", last["restore"], last["np_load"], "GB/s")
    result_line(
        "table_memory",
        last["bytes"],
        float(RAW_PAYLOAD),
        "B/entry",
        higher_is_better=False,
    )
    worst = min(results, key=lambda r: ratio(r["ours"], r["tf_best"]))
    result_line("embedding_update", worst["ours"], worst["tf_best"], "Mrows/s")


if __name__ == "__main__":
    main()
