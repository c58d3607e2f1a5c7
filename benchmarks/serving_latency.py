"""Predict latency of ``monolith serve`` against the bare gRPC floor.

* ours: ``PredictionService/Predict`` of batch 1 and batch 256 (4 slots of
  dim 16, 2 fids per slot and example, 8 dense features, MLP 64-32 on the
  torch backend, int8 tables) over loopback, one client thread, a bounded
  loop of calls.
* anchor (transport floor): a bare unary echo registered on the *same*
  server (same thread pool, options and process) that takes the same request
  bytes and answers as many bytes as Predict does, with no work in between.

Predict and echo calls alternate so both see the same machine noise. The
server runs in its own process (``python -m benchmarks.serving_latency
--serve``), so client and server do not share a GIL.

Run: ``python -m benchmarks.serving_latency [--quick]``. The RESULT is the
batch-1 p50: ratio = echo p50 / Predict p50 (target >= 0.67).
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import grpc
import numpy as np

from benchmarks._harness import Table, parse_args, result_line

SLOTS = 4
DIM = 16
DENSE = 8
FIDS_PER_TABLE = 20_000
ECHO_SERVICE = "bench.Echo"


def build_export(root: str) -> str:
    """Train-like tables into a checkpoint, exported as int8; return export dir."""
    from monolith.adapters.parameters.local import LocalParameterStore
    from monolith.adapters.storage.local import LocalFileSystem
    from monolith.app.checkpoints import CheckpointManager
    from monolith.app.export.exporter import ExportRequest
    from monolith.app.export.wiring import run_export
    from monolith.app.serving.backends import make_compute
    from monolith.domain.embedding.config import TableConfig
    from monolith.domain.model_spec import (
        ModelSpec,
        SlotSpec,
        TowerSpec,
        model_spec_to_dict,
    )

    spec = ModelSpec(
        name="bench",
        tables=tuple(TableConfig(f"t{i}", DIM) for i in range(SLOTS)),
        slots=tuple(SlotSpec(f"s{i}", f"t{i}") for i in range(SLOTS)),
        dense_features=DENSE,
        tower=TowerSpec("mlp", hidden=(64, 32)),
    )
    fs = LocalFileSystem()
    store = LocalParameterStore(num_shards=1, fs=fs)
    store.create_tables(spec.tables)
    rng = np.random.default_rng(0)
    for table in spec.tables:
        fids = np.arange(FIDS_PER_TABLE, dtype=np.int64)
        grads = rng.normal(size=(FIDS_PER_TABLE, DIM)).astype(np.float32)
        store.apply_gradients(table.name, fids, grads, 1, 1.0)
    backend = make_compute("torch")
    backend.build(spec)
    model_dir = os.path.join(root, "model")
    CheckpointManager(fs, model_dir).save(
        1, store, backend, task="bench", model_spec=model_spec_to_dict(spec)
    )
    store.close()
    export_dir = os.path.join(root, "exports")
    run_export(ExportRequest(model_dir, export_dir, quantize_bits=8))
    return export_dir


def request_proto(batch: int, seed: int = 0) -> Any:
    from monolith.proto import prediction_service_pb2 as pb

    rng = np.random.default_rng(seed)
    message = pb.PredictRequest(batch_size=batch)
    for i in range(SLOTS):
        slot = message.slots[f"s{i}"]
        slot.values.extend(rng.integers(0, FIDS_PER_TABLE * 2, 2 * batch).tolist())
        slot.row_splits.extend(range(0, 2 * batch + 1, 2))
    message.dense.extend(rng.standard_normal(batch * DENSE).astype(np.float32).tolist())
    return message


def response_size(batch: int) -> int:
    from monolith.proto import prediction_service_pb2 as pb

    reply = pb.PredictResponse(scores=[0.5] * batch, model_version=1)
    return len(reply.SerializeToString())


def serve(export_dir: str, sizes: list[int]) -> None:
    """The server process: monolith serving plus echo methods on one server."""
    from monolith.app.serving.runner import run_server
    from monolith.domain.serve_settings import ServeSettings

    logging.basicConfig(level=logging.WARNING)
    replies = {f"Echo{n}": bytes(n) for n in sizes}

    def handler(reply: bytes) -> Any:
        return grpc.unary_unary_rpc_method_handler(lambda request, context: reply)

    echo = grpc.method_handlers_generic_handler(
        ECHO_SERVICE, {name: handler(reply) for name, reply in replies.items()}
    )
    settings = ServeSettings(export_dir=export_dir, port=0, workers=4)

    def started(running: Any) -> None:
        print(running.server.port, flush=True)

    run_server(settings, on_started=started, extra_handlers=(echo,))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def run_case(
    channel: grpc.Channel, batch: int, calls: int
) -> tuple[list[float], list[float], float, float]:
    from monolith.proto import prediction_service_pb2_grpc as pb_grpc

    stub = pb_grpc.PredictionServiceStub(channel)
    message = request_proto(batch)
    payload = message.SerializeToString()
    echo = channel.unary_unary(f"/{ECHO_SERVICE}/Echo{response_size(batch)}")
    for _ in range(20):
        stub.Predict(message, timeout=10)
        echo(payload, timeout=10)
    ours: list[float] = []
    floor: list[float] = []
    ours_total = floor_total = 0.0
    for _ in range(calls):
        start = time.perf_counter()
        reply = stub.Predict(message, timeout=10)
        mid = time.perf_counter()
        echo(payload, timeout=10)
        end = time.perf_counter()
        if len(reply.scores) != batch:
            raise RuntimeError(f"Predict returned {len(reply.scores)} scores")
        ours.append(mid - start)
        floor.append(end - mid)
        ours_total += mid - start
        floor_total += end - mid
    return ours, floor, calls / ours_total, calls / floor_total


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], [int(n) for n in sys.argv[3].split(",")])
        return
    args = parse_args("Predict latency vs a bare gRPC echo on the same server")
    calls = 300 if args.quick else 2000
    batches = (1, 256)
    with tempfile.TemporaryDirectory() as root:
        logging.disable(logging.INFO)
        export_dir = build_export(root)
        logging.disable(logging.NOTSET)
        sizes = ",".join(str(response_size(b)) for b in batches)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.serving_latency",
                "--serve",
                export_dir,
                sizes,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline())
            table = Table(
                [
                    "batch",
                    "req bytes",
                    "p50 us",
                    "p99 us",
                    "QPS",
                    "echo p50 us",
                    "echo p99 us",
                    "echo QPS",
                    "p50 ratio",
                ]
            )
            results = {}
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                for batch in batches:
                    p50s, e50s = [], []
                    all_ours: list[float] = []
                    all_floor: list[float] = []
                    qps = eqps = 0.0
                    for _ in range(args.repeat):
                        ours, floor, q, eq = run_case(
                            channel, batch, calls // args.repeat
                        )
                        p50s.append(percentile(ours, 50))
                        e50s.append(percentile(floor, 50))
                        all_ours += ours
                        all_floor += floor
                        qps, eqps = max(qps, q), max(eqps, eq)
                    p50 = statistics.median(p50s) * 1e6
                    e50 = statistics.median(e50s) * 1e6
                    size = len(request_proto(batch).SerializeToString())
                    table.add_row(
                        str(batch),
                        str(size),
                        p50,
                        percentile(all_ours, 99) * 1e6,
                        qps,
                        e50,
                        percentile(all_floor, 99) * 1e6,
                        eqps,
                        e50 / p50,
                    )
                    results[batch] = (p50, e50)
        finally:
            process.terminate()
            process.wait(timeout=30)
    table.print()
    p50, e50 = results[1]
    result_line("serving_latency", p50, e50, "us_p50_batch1", higher_is_better=False)


if __name__ == "__main__":
    main()
