"""A real ``monolith serve`` process: readiness, load, and SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from monolith.adapters.serving import codec
from monolith.proto import prediction_service_pb2_grpc as pb_grpc
from tests.serving_support.servers import (
    free_port,
    make_export,
    sample_request,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _serving(address: str) -> bool:
    try:
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _start(export_dir: str, port: int, grace: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from monolith.app.cli.main import main; main()",
            "serve",
            "--export-dir",
            export_dir,
            "--port",
            str(port),
            "--grace",
            str(grace),
            "--workers",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_under_load_drains_in_flight_requests_and_exits_zero(
    tmp_path: Path, signum: signal.Signals
) -> None:
    make_export(str(tmp_path), step=10)
    port = free_port()
    address = f"127.0.0.1:{port}"
    process = _start(str(tmp_path / "exports"), port, grace=5.0)
    try:
        wait_until(lambda: _serving(address), timeout=90)
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()
        stop = threading.Event()
        message = codec.request_to_proto(sample_request(batch=32))

        def load() -> None:
            # Like a load balancer, a client leaves a replica that refuses it.
            with grpc.insecure_channel(address) as channel:
                stub = pb_grpc.PredictionServiceStub(channel)
                for _ in range(5000):
                    if stop.is_set():
                        return
                    try:
                        reply = stub.Predict(message, timeout=10)
                        outcome = "OK" if len(reply.scores) == 32 else "WRONG"
                    except grpc.RpcError as exc:
                        outcome = exc.code().name
                    with lock:
                        outcomes[outcome] += 1
                    if outcome != "OK":
                        return

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        wait_until(lambda: outcomes["OK"] >= 40, timeout=60)

        process.send_signal(signum)
        code = process.wait(timeout=60)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert code == 0, err
    assert outcomes["OK"] >= 40
    assert set(outcomes) <= {"OK", "UNAVAILABLE"}, outcomes
    assert "serving address=127.0.0.1:" in out
    assert "stopped" in out
    assert f"shutdown requested signal={signum.name}" in err


def test_serve_refuses_half_configured_tls(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from monolith.app.cli.main import main; main()",
            "serve",
            "--export-dir",
            str(tmp_path),
            "--tls-cert",
            str(cert),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "TLS needs both --tls-cert and --tls-key" in result.stderr
