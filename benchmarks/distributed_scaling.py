"""The cost of the process boundary: training steps against in-process vs gRPC PS.

Three set-ups train the same DeepFM (8 datagen slots, dim 16, MLP 128-64,
batch 512, async mode: dense parameters on the store, pulled before and
pushed after every step) with :class:`~monolith.app.training.step.WorkerStep`:

1. one worker with an in-process ``LocalParameterStore`` of 2 shards (the
   anchor);
2. one worker with 2 PS processes over gRPC (``GrpcParameterStore``);
3. two worker processes sharing 2 PS processes (aggregate examples/s over
   the window where both run).

It also reports the RPC payload per example: the bytes of fids, rows,
gradients and dense arrays sent and received (protobuf framing excluded).

Run: ``python -m benchmarks.distributed_scaling [--quick]``. The RESULT line
compares 2 workers with 2 gRPC PS against the in-process anchor (higher is
better; below 1 is the price of the process boundary on this machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from benchmarks._harness import Table, parse_args, ratio, result_line
from monolith.adapters.clock.system import SystemClock
from monolith.adapters.storage.local import LocalFileSystem
from monolith.app.training.inputs import features_of, training_source
from monolith.app.training.runtime import backend_factory, build_spec
from monolith.app.training.step import WorkerStep
from monolith.domain.batch import Batch
from monolith.domain.embedding.config import TableConfig
from monolith.domain.model_spec import DenseOptimizerSpec, ModelSpec
from monolith.ports.parameters import (
    Float32Array,
    Int64Array,
    ParameterStore,
    TableInfo,
    TouchedRows,
)

BATCH = 512
TASK = "examples.ctr.DeepFM"
OPTIONS = {"hidden": "128,64"}

PS_SCRIPT = """
import sys
from monolith.adapters.parameters.grpc_server import start_ps_server
from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.storage.local import LocalFileSystem
handle = start_ps_server(LocalParameterStore(1, fs=LocalFileSystem()), "127.0.0.1", 0)
print(handle.address, flush=True)
handle.wait()
"""


class CountingStore:
    """A parameter store that counts the array bytes crossing it."""

    def __init__(self, inner: ParameterStore) -> None:
        self.inner = inner
        self.bytes = 0

    @property
    def num_shards(self) -> int:
        return self.inner.num_shards

    def create_tables(self, configs: Sequence[TableConfig]) -> None:
        self.inner.create_tables(configs)

    def tables(self) -> list[TableInfo]:
        return self.inner.tables()

    def lookup(self, table: str, fids: Int64Array) -> Float32Array:
        rows = self.inner.lookup(table, fids)
        self.bytes += fids.nbytes + rows.nbytes
        return rows

    def apply_gradients(
        self,
        table: str,
        fids: Int64Array,
        grads: Float32Array,
        step: int,
        timestamp: float,
    ) -> None:
        self.bytes += fids.nbytes + grads.nbytes
        self.inner.apply_gradients(table, fids, grads, step, timestamp)

    def lookup_many(
        self, fids_by_table: Mapping[str, Int64Array]
    ) -> dict[str, Float32Array]:
        found = self.inner.lookup_many(fids_by_table)
        self.bytes += sum(f.nbytes for f in fids_by_table.values())
        self.bytes += sum(rows.nbytes for rows in found.values())
        return found

    def apply_gradients_many(
        self,
        updates: Mapping[str, tuple[Int64Array, Float32Array]],
        step: int,
        timestamp: float,
    ) -> None:
        self.bytes += sum(f.nbytes + g.nbytes for f, g in updates.values())
        self.inner.apply_gradients_many(updates, step, timestamp)

    def init_dense(
        self, params: Mapping[str, Float32Array], optimizer: DenseOptimizerSpec
    ) -> None:
        self.inner.init_dense(params, optimizer)

    def pull_dense(self) -> dict[str, Float32Array]:
        params = self.inner.pull_dense()
        self.bytes += sum(a.nbytes for a in params.values())
        return params

    def push_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        self.bytes += sum(np.asarray(a).nbytes for a in grads.values())
        self.inner.push_dense_gradients(grads)

    def snapshot(self, directory: str) -> list[str]:
        return self.inner.snapshot(directory)

    def restore(self, directory: str) -> None:
        self.inner.restore(directory)

    def touched_since(self, table: str, version: int) -> TouchedRows:
        return self.inner.touched_since(table, version)

    def close(self) -> None:
        self.inner.close()


def make_data(directory: str) -> str:
    from monolith.app.data.datagen import generate

    generate(LocalFileSystem(), f"{directory}/data", rows=40000, seed=1, shards=4)
    return f"{directory}/data/train-*"


def batches_of(
    pattern: str, index: int, count: int
) -> tuple[ModelSpec, Iterator[Batch]]:
    fs = LocalFileSystem()
    features = features_of(fs, pattern)
    spec = build_spec(TASK, features, OPTIONS)
    source = training_source(fs, pattern, features, batch_size=BATCH, epochs=None)
    return spec, source(index, count)


def train(
    store: ParameterStore, pattern: str, index: int, count: int, steps: int, warmup: int
) -> dict[str, float]:
    """Run ``warmup`` then ``steps`` timed steps; examples/s and bytes/example."""
    spec, batches = batches_of(pattern, index, count)
    backend = backend_factory("torch", num_threads=1)()
    backend.build(spec)
    counting = CountingStore(store)
    counting.create_tables(spec.tables)
    counting.init_dense(backend.parameters(), spec.dense_optimizer)
    runner = WorkerStep(spec, counting, backend, SystemClock(), dense_on_store=True)
    for step in range(1, warmup + 1):
        runner.run(next(batches), step)
    counting.bytes = 0
    start = time.time()
    for step in range(warmup + 1, warmup + steps + 1):
        runner.run(next(batches), step)
    end = time.time()
    examples = steps * BATCH
    return {
        "examples": examples,
        "start": start,
        "end": end,
        "examples_per_sec": examples / (end - start),
        "bytes_per_example": counting.bytes / examples,
    }


def start_ps(count: int) -> tuple[list[subprocess.Popen[str]], list[str]]:
    procs, addresses = [], []
    for _ in range(count):
        proc = subprocess.Popen(
            [sys.executable, "-c", PS_SCRIPT], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        procs.append(proc)
        addresses.append(proc.stdout.readline().strip())
    return procs, addresses


def stop_ps(procs: list[subprocess.Popen[str]], addresses: list[str]) -> None:
    from monolith.adapters.parameters.grpc_client import GrpcParameterStore

    store = GrpcParameterStore(addresses, deadline=10.0)
    store.shutdown_servers()
    store.close()
    for proc in procs:
        proc.wait(30)


def remote_train(
    addresses: list[str], pattern: str, index: int, count: int, steps: int, warmup: int
) -> dict[str, float]:
    from monolith.adapters.parameters.grpc_client import GrpcParameterStore

    store = GrpcParameterStore(addresses, deadline=60.0)
    store.wait_ready(30.0)
    try:
        return train(store, pattern, index, count, steps, warmup)
    finally:
        store.close()


def child_main(argv: Sequence[str]) -> None:
    """``--child ADDRS PATTERN INDEX COUNT STEPS WARMUP``: one worker process."""
    addresses, pattern = argv[0].split(","), argv[1]
    index, count, steps, warmup = (int(a) for a in argv[2:6])
    print(json.dumps(remote_train(addresses, pattern, index, count, steps, warmup)))


def two_workers(
    addresses: list[str], pattern: str, steps: int, warmup: int
) -> dict[str, float]:
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.distributed_scaling",
                "--child",
                ",".join(addresses),
                pattern,
                str(i),
                "2",
                str(steps),
                str(warmup),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    results: list[dict[str, Any]] = []
    for child in children:
        out, _ = child.communicate(timeout=1800)
        results.append(json.loads(out.strip().splitlines()[-1]))
    examples = sum(r["examples"] for r in results)
    window = max(r["end"] for r in results) - min(r["start"] for r in results)
    payload = sum(r["bytes_per_example"] * r["examples"] for r in results)
    return {
        "examples_per_sec": examples / window,
        "bytes_per_example": payload / examples,
    }


def main(argv: Sequence[str] | None = None) -> None:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--child"]:
        child_main(args_list[1:])
        return
    args = parse_args(__doc__ or "", args_list)
    steps, warmup = (30, 5) if args.quick else (120, 10)
    from monolith.adapters.parameters.local import LocalParameterStore

    with tempfile.TemporaryDirectory() as tmp:
        pattern = make_data(tmp)
        local = train(LocalParameterStore(2), pattern, 0, 1, steps, warmup)
        procs, addresses = start_ps(2)
        try:
            one = remote_train(addresses, pattern, 0, 1, steps, warmup)
            two = two_workers(addresses, pattern, steps, warmup)
        finally:
            stop_ps(procs, addresses)
    table = Table(["setup", "examples/s", "payload B/example", "vs in-process"])
    anchor = local["examples_per_sec"]
    for name, figures in (
        ("1 worker, in-process PS (2 shards)", local),
        ("1 worker, 2 gRPC PS", one),
        ("2 workers, 2 gRPC PS", two),
    ):
        table.add_row(
            name,
            figures["examples_per_sec"],
            figures["bytes_per_example"],
            f"{ratio(figures['examples_per_sec'], anchor):.3f}x",
        )
    table.print()
    result_line(
        "distributed_scaling",
        two["examples_per_sec"],
        anchor,
        "examples/s",
    )


if __name__ == "__main__":
    main()
