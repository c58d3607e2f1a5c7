"""Freshness of real-time training: ``apply_gradients`` to visible in serving.

A trainer-side ``LocalParameterStore`` runs :class:`RealtimeSync` against a
``monolith serve`` process (own process, loopback gRPC). Each trial trains a
fid the served model has never seen (so it reads as a zero row), then polls
Predict with that fid until the score changes. Freshness is the time from
the ``apply_gradients`` call returning to the first changed score.

* ours: the median freshness at each sync interval.
* anchor: the sync interval itself. The target is a median below 2 x the
  interval (ratio = interval / median > 0.5), and below 1 s at 0.2 s.

Run: ``python -m benchmarks.sync_freshness [--quick]``. The RESULT line is
for the 0.2 s interval.
"""

from __future__ import annotations

import logging
import statistics
import subprocess
import sys
import tempfile
import time

import grpc
import numpy as np

from benchmarks._harness import Table, parse_args, result_line
from benchmarks.serving_latency import DENSE, SLOTS, build_export

POLL_SECONDS = 0.002


def _serve(export_dir: str) -> tuple[subprocess.Popen[str], int]:
    script = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "from monolith.app.serving.runner import run_server\n"
        "from monolith.domain.serve_settings import ServeSettings\n"
        "run_server(ServeSettings(export_dir=sys.argv[1], port=0, workers=4),\n"
        "           on_started=lambda r: print(r.server.port, flush=True))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, export_dir], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def _probe(fid: int) -> object:
    from monolith.proto import prediction_service_pb2 as pb

    message = pb.PredictRequest(batch_size=1)
    message.slots["s0"].values.append(fid)
    message.slots["s0"].row_splits.extend([0, 1])
    for i in range(1, SLOTS):
        message.slots[f"s{i}"].row_splits.extend([0, 0])
    message.dense.extend([0.0] * DENSE)
    return message


def trial(store: object, stub: object, fid: int, rng: np.random.Generator) -> float:
    """Seconds from training ``fid`` to its row changing a served score."""
    message = _probe(fid)
    before = stub.Predict(message, timeout=5).scores[0]  # type: ignore[attr-defined]
    grads = rng.normal(size=(1, 16)).astype(np.float32)
    store.apply_gradients(  # type: ignore[attr-defined]
        "t0", np.array([fid], dtype=np.int64), grads, 1, time.time()
    )
    trained = time.perf_counter()
    deadline = trained + 60.0
    while time.perf_counter() < deadline:
        score = stub.Predict(message, timeout=5).scores[0]  # type: ignore[attr-defined]
        if score != before:
            return time.perf_counter() - trained
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"fid {fid} never became visible in serving")


def main() -> None:
    args = parse_args("real-time sync freshness: training to serving visibility")
    intervals = (0.2, 1.0) if args.quick else (0.2, 1.0, 2.0)
    trials = 8 if args.quick else 20

    from monolith.adapters.clock.system import SystemClock
    from monolith.adapters.parameters.local import LocalParameterStore
    from monolith.app.realtime import RealtimeSync, StaticTargets, grpc_client
    from monolith.domain.embedding.config import TableConfig
    from monolith.proto import prediction_service_pb2_grpc as pb_grpc

    logging.disable(logging.INFO)
    table = Table(["interval s", "trials", "median s", "p90 s", "max s", "ratio"])
    medians: dict[float, float] = {}
    with tempfile.TemporaryDirectory() as root:
        export_dir = build_export(root)
        process, port = _serve(export_dir)
        address = f"127.0.0.1:{port}"
        try:
            rng = np.random.default_rng(0)
            next_fid = 10_000_000
            with grpc.insecure_channel(address) as channel:
                stub = pb_grpc.PredictionServiceStub(channel)
                for interval in intervals:
                    store = LocalParameterStore(num_shards=1)
                    store.create_tables(
                        [TableConfig(f"t{i}", 16) for i in range(SLOTS)]
                    )
                    targets = StaticTargets([address], grpc_client)
                    sync = RealtimeSync(
                        store, ["t0"], targets, SystemClock(), interval=interval
                    )
                    sync.start()
                    times = []
                    for _ in range(trials):
                        next_fid += 1
                        times.append(trial(store, stub, next_fid, rng))
                        # Start the next trial at a random phase of the interval.
                        time.sleep(float(rng.uniform(0, interval)))
                    sync.stop(flush=False)
                    targets.close()
                    store.close()
                    median = statistics.median(times)
                    medians[interval] = median
                    table.add_row(
                        interval,
                        str(trials),
                        median,
                        float(np.percentile(times, 90)),
                        max(times),
                        interval / median,
                    )
        finally:
            process.terminate()
            process.wait(timeout=30)
    logging.disable(logging.NOTSET)
    table.print()
    ok = medians[0.2] < 1.0 and all(medians[i] < 2 * i for i in intervals)
    print(f"targets met (median < 2x interval, < 1 s at 0.2 s): {ok}", flush=True)
    result_line("sync_freshness", medians[0.2], 0.2, "s_median_at_0.2s", False)


if __name__ == "__main__":
    main()
