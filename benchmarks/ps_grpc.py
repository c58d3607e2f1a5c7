"""Remote lookups through the gRPC parameter server.

* ours: ``GrpcParameterStore.lookup`` of 65,536 fids (dim 16, 95% hits) from
  one PS process holding 1M fids (quick: 200k), over loopback.
* in-process: the same lookup on a ``LocalParameterStore`` in this process.
* anchor (transport floor): a bare gRPC unary echo in its own process that
  receives the same request bytes (8 B per fid) and answers the same number
  of response bytes (4 * dim per fid), with no work in between.

Run: ``python -m benchmarks.ps_grpc [--quick]``. The RESULT ratio is ours over
the echo floor (1.0 would mean the PS adds nothing to the transport).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from typing import Any

import grpc
import numpy as np

from benchmarks._harness import Table, measure, parse_args, result_line
from benchmarks.embedding_lookup import make_keys, make_queries
from monolith.adapters.parameters.grpc_client import GrpcParameterStore
from monolith.adapters.parameters.local import LocalParameterStore
from monolith.domain.embedding.config import TableConfig

DIM = 16
BATCH = 65_536
FILL = 1 << 16
MAX_MESSAGE = 512 << 20

_PS_SCRIPT = """
import sys
from monolith.adapters.parameters.grpc_server import start_ps_server
from monolith.adapters.parameters.local import LocalParameterStore
handle = start_ps_server(LocalParameterStore(1), "127.0.0.1", 0)
print(handle.port, flush=True)
handle.wait()
"""

_ECHO_SCRIPT = """
import sys
from concurrent import futures
import grpc
reply = bytes(int(sys.argv[1]))
def echo(request, context):
    return reply
handler = grpc.method_handlers_generic_handler(
    "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
)
options = [("grpc.max_receive_message_length", 1 << 29),
           ("grpc.max_send_message_length", 1 << 29), ("grpc.so_reuseport", 0)]
server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=options)
server.add_generic_rpc_handlers((handler,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
server.wait_for_termination()
"""


def spawn(script: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, port


def echo_call(port: int) -> Any:
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
    ]
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
    return channel, channel.unary_unary("/bench.Echo/Echo")


def main() -> None:
    args = parse_args(__doc__ or "")
    logging.basicConfig(level=logging.WARNING)
    count = 200_000 if args.quick else 1_000_000
    keys = make_keys(count)
    queries = make_queries(keys)
    config = TableConfig("emb", dim=DIM)
    fill = np.zeros((FILL, DIM), np.float32)

    ps, ps_port = spawn(_PS_SCRIPT)
    echo, echo_port = spawn(_ECHO_SCRIPT, str(BATCH * DIM * 4))
    try:
        remote = GrpcParameterStore([f"127.0.0.1:{ps_port}"], deadline=60.0)
        remote.wait_ready(30.0)
        local = LocalParameterStore(1)
        for store in (remote, local):
            store.create_tables([config])
            for start in range(0, count, FILL):
                chunk = keys[start : start + FILL]
                store.apply_gradients("emb", chunk, fill[: chunk.size], 1, 0.0)
        if not np.array_equal(
            remote.lookup("emb", queries), local.lookup("emb", queries)
        ):
            raise RuntimeError("remote and local lookups differ")
        channel, call = echo_call(echo_port)
        request = queries.tobytes()
        ours = measure(
            lambda: remote.lookup("emb", queries), repeat=args.repeat, number=5
        )
        inproc = measure(
            lambda: local.lookup("emb", queries), repeat=args.repeat, number=5
        )
        floor = measure(lambda: call(request, timeout=30), repeat=args.repeat, number=5)
        channel.close()
        remote.shutdown_servers(grace=1.0)
        remote.close()
    finally:
        echo.kill()
        deadline = time.monotonic() + 10
        while ps.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if ps.poll() is None:
            ps.kill()
    mkeys = [BATCH / t.median / 1e6 for t in (ours, inproc, floor)]
    report = Table(["method", "Mkeys/s", "ms/call", "vs echo"])
    names = [
        "remote lookup (gRPC PS)",
        "in-process LocalParameterStore",
        "bare gRPC echo",
    ]
    for name, rate, timing in zip(names, mkeys, (ours, inproc, floor), strict=True):
        report.add_row(name, rate, timing.median * 1e3, f"{rate / mkeys[2]:.2f}x")
    report.print()
    print(
        f"# payload request={BATCH * 8} B response={BATCH * DIM * 4} B fids={count}",
        flush=True,
    )
    result_line("ps_grpc", mkeys[0], mkeys[2], "Mkeys/s")


if __name__ == "__main__":
    main()
