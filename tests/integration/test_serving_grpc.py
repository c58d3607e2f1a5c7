"""The Prediction service over real gRPC on loopback (decision 14)."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from monolith.adapters.serving.grpc_client import GrpcPredictionClient
from monolith.app.serving.backends import make_compute
from monolith.app.serving.model import load_export
from monolith.app.serving.runner import RunningServer
from monolith.domain.batch import RaggedFids
from monolith.domain.errors import ServingError, UsageError
from monolith.domain.serve_settings import ServeSettings
from monolith.domain.serving import EmbeddingDelta, PredictRequest, TableDelta
from monolith.proto import prediction_service_pb2 as pb
from monolith.proto import prediction_service_pb2_grpc as pb_grpc
from tests.serving_support.servers import make_export, sample_request, wait_until

pytestmark = pytest.mark.integration

SERVICE = "monolith.serving.v1.PredictionService"


@pytest.fixture()
def export_root(tmp_path: Path) -> str:
    root = str(tmp_path)
    make_export(root, step=10)
    return root


@pytest.fixture()
def server(export_root: str) -> Iterator[RunningServer]:
    settings = ServeSettings(
        export_dir=f"{export_root}/exports",
        port=0,
        metrics_port=0,
        poll_interval=0.1,
        workers=2,
        max_batch=64,
    )
    running = RunningServer(settings).start()
    yield running
    running.stop(grace=1.0)


@pytest.fixture()
def client(server: RunningServer) -> Iterator[GrpcPredictionClient]:
    c = GrpcPredictionClient(server.address)
    yield c
    c.close()


def _health(address: str, service: str) -> int:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(response.status)


def test_health_reports_serving_once_a_model_is_loaded(server: RunningServer) -> None:
    assert _health(server.address, SERVICE) == health_pb2.HealthCheckResponse.SERVING
    assert _health(server.address, "") == health_pb2.HealthCheckResponse.SERVING


def test_health_turns_serving_when_the_first_version_appears(tmp_path: Path) -> None:
    root = str(tmp_path)
    settings = ServeSettings(export_dir=f"{root}/exports", port=0, poll_interval=0.1)

    with RunningServer(settings) as running:
        before = _health(running.address, SERVICE)
        client = GrpcPredictionClient(running.address)
        with pytest.raises(ServingError, match="UNAVAILABLE: no model loaded"):
            client.predict(sample_request())
        make_export(root, step=3)
        wait_until(
            lambda: (
                _health(running.address, SERVICE)
                == health_pb2.HealthCheckResponse.SERVING
            )
        )
        scores = client.predict(sample_request()).scores
        client.close()

    assert before == health_pb2.HealthCheckResponse.NOT_SERVING
    assert scores.shape == (2,)


def test_reflection_lists_the_prediction_and_health_services(
    server: RunningServer,
) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        responses = list(stub.ServerReflectionInfo(iter([request]), timeout=5))

    names = {s.name for s in responses[0].list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


def test_predict_returns_the_scores_of_the_loaded_export(
    export_root: str, client: GrpcPredictionClient
) -> None:
    offline = load_export(f"{export_root}/exports/10", make_compute)
    request = sample_request(batch=5)

    result = client.predict(request)

    assert result.model_version == 10
    np.testing.assert_allclose(result.scores, offline.predict(request), rtol=1e-6)


def test_a_batch_over_the_limit_is_refused_and_one_at_the_limit_is_scored(
    client: GrpcPredictionClient,
) -> None:
    with pytest.raises(
        UsageError, match="batch_size 256 exceeds the server's limit of 64"
    ):
        client.predict(sample_request(batch=256))

    assert client.predict(sample_request(batch=64)).scores.shape == (64,)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.PredictRequest(batch_size=0), "batch_size"),
        (pb.PredictRequest(batch_size=1, dense=[0, 0, 0]), "slots is missing"),
        (
            pb.PredictRequest(
                batch_size=1,
                slots={
                    "user_id": pb.RaggedFids(values=[1], row_splits=[0, 1]),
                    "item_id": pb.RaggedFids(values=[1, 2], row_splits=[0, 1]),
                },
                dense=[0, 0, 0],
            ),
            "slots[item_id].row_splits must end at len(values) = 2",
        ),
        (
            pb.PredictRequest(
                batch_size=1,
                slots={
                    "user_id": pb.RaggedFids(values=[1], row_splits=[0, 1]),
                    "item_id": pb.RaggedFids(values=[1], row_splits=[0, 1]),
                },
                dense=[0, 0],
            ),
            "dense must hold batch_size x 3 = 3 floats",
        ),
    ],
    ids=["no-batch", "no-slots", "bad-splits", "short-dense"],
)
def test_a_malformed_request_is_invalid_argument_naming_the_field(
    server: RunningServer,
    client: GrpcPredictionClient,
    request_: pb.PredictRequest,
    field: str,
) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(request_, timeout=5)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (caught.value.details() or "")
    assert client.predict(sample_request()).scores.shape == (2,)


def test_a_new_export_version_is_picked_up_without_restart(
    export_root: str, client: GrpcPredictionClient
) -> None:
    before = client.predict(sample_request())

    make_export(export_root, step=20, seed=5)
    wait_until(lambda: client.status().model_version == 20)
    after = client.predict(sample_request())

    assert before.model_version == 10
    assert after.model_version == 20
    assert not np.allclose(before.scores, after.scores)


def test_an_older_version_appearing_later_is_not_loaded(
    export_root: str, server: RunningServer, client: GrpcPredictionClient
) -> None:
    make_export(export_root, step=5, seed=2)

    server.service.refresh()

    assert client.status().model_version == 10


def test_a_delta_changes_predictions_and_a_replay_is_ignored(
    client: GrpcPredictionClient,
) -> None:
    request = PredictRequest(
        slots={
            "user_id": RaggedFids.from_lists([[123456]]),
            "item_id": RaggedFids.from_lists([[-36]]),
        },
        dense=np.zeros(3, dtype=np.float32),
        batch_size=1,
    )
    before = client.predict(request).scores
    rows = np.full((1, 8), 0.7, dtype=np.float32)
    delta = EmbeddingDelta(
        "trainer", 4, (TableDelta("user", np.array([123456]), rows),), time.time()
    )

    first = client.push_delta(delta)
    changed = client.predict(request).scores
    stale = client.push_delta(
        EmbeddingDelta(
            "trainer", 3, (TableDelta("user", np.array([123456]), -rows),), time.time()
        )
    )
    replay = client.push_delta(delta)

    assert first.applied == ("user",)
    assert stale.ignored == ("user",) and replay.ignored == ("user",)
    assert not np.allclose(before, changed)
    np.testing.assert_allclose(client.predict(request).scores, changed)


def test_a_delta_for_an_unknown_table_is_invalid_argument(
    client: GrpcPredictionClient,
) -> None:
    delta = EmbeddingDelta(
        "t", 1, (TableDelta("nope", np.array([1]), np.ones((1, 8), np.float32)),), 0.0
    )

    with pytest.raises(UsageError, match="tables\\[0\\].table 'nope' is not served"):
        client.push_delta(delta)


def test_deltas_survive_a_reload_when_newer_than_the_checkpoint(
    export_root: str, client: GrpcPredictionClient
) -> None:
    rows = np.full((1, 8), 0.3, dtype=np.float32)
    client.push_delta(
        EmbeddingDelta(
            "t", 1, (TableDelta("user", np.array([424242]), rows),), time.time() + 3600
        )
    )
    request = PredictRequest(
        slots={
            "user_id": RaggedFids.from_lists([[424242]]),
            "item_id": RaggedFids.from_lists([[]]),
        },
        dense=np.zeros(3, dtype=np.float32),
        batch_size=1,
    )
    with_delta = client.predict(request).scores

    make_export(export_root, step=30, seed=0)
    wait_until(lambda: client.status().model_version == 30)

    np.testing.assert_allclose(client.predict(request).scores, with_delta, rtol=1e-6)


def test_metrics_count_requests_and_report_the_version(
    server: RunningServer, client: GrpcPredictionClient
) -> None:
    client.predict(sample_request())
    client.push_delta(
        EmbeddingDelta(
            "m",
            1,
            (TableDelta("user", np.array([1]), np.ones((1, 8), np.float32)),),
            time.time() - 0.5,
        )
    )

    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()

    assert 'monolith_serving_requests_total{code="OK",method="Predict"}' in text
    assert "monolith_serving_request_seconds_bucket" in text
    assert "monolith_serving_model_version 10.0" in text
    assert "monolith_serving_sync_lag_seconds_count 1.0" in text


def test_requests_during_a_reload_all_succeed_on_one_version_or_the_next(
    export_root: str, client: GrpcPredictionClient
) -> None:
    import threading

    versions: list[int] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def loop() -> None:
        own = GrpcPredictionClient(client.address)
        try:
            for _ in range(2000):
                if stop.is_set():
                    return
                versions.append(own.predict(sample_request()).model_version)
        except Exception as exc:  # collected for the assert below
            errors.append(exc)
        finally:
            own.close()

    worker = threading.Thread(target=loop)
    worker.start()
    make_export(export_root, step=40, seed=9)
    wait_until(lambda: bool(versions) and versions[-1] == 40, timeout=90)
    stop.set()
    worker.join(timeout=30)

    assert errors == []
    assert set(versions) <= {10, 40}
    assert versions == sorted(versions)


@pytest.fixture()
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_serving_answers_a_client_that_trusts_the_certificate(
    export_root: str, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    settings = ServeSettings(
        export_dir=f"{export_root}/exports",
        host="localhost",
        port=0,
        tls_cert=str(cert),
        tls_key=str(key),
    )

    with RunningServer(settings) as running:
        secure = GrpcPredictionClient(
            running.address, root_certificates=cert.read_bytes()
        )
        scores = secure.predict(sample_request()).scores
        secure.close()
        plain = GrpcPredictionClient(running.address)
        with pytest.raises(ServingError):
            plain.predict(sample_request(), timeout=2)
        plain.close()

    assert scores.shape == (2,)
