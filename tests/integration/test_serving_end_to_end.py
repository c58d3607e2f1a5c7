"""datagen -> train -> export -> serve -> predict --server, and train --realtime."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from monolith.app.cli.main import cli
from monolith.app.serving.demo_tail import export_serve_predict
from monolith.app.serving.remote_predict import predict_remote
from monolith.app.serving.runner import RunningServer
from monolith.domain.serve_settings import ServeSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TASK = "monolith.examples.ctr.DeepFM"


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    _run(
        "datagen",
        "--out",
        str(data),
        "--rows",
        "1200",
        "--slots",
        "3",
        "--vocab-size",
        "50",
    )
    model = root / "model"
    _run(
        "train",
        "--task",
        TASK,
        "--data",
        str(data / "train-*.tfrecord"),
        "--model-dir",
        str(model),
        "--steps",
        "15",
        "--batch-size",
        "64",
    )
    exports = root / "exports"
    _run(
        "export",
        "--checkpoint",
        str(model),
        "--output",
        str(exports),
        "--quantize",
        "8",
    )
    return {
        "root": str(root),
        "train": str(data / "train-*.tfrecord"),
        "eval": str(data / "eval-*.tfrecord"),
        "model": str(model),
        "exports": str(exports),
    }


@pytest.fixture()
def server(trained: dict[str, str]) -> Iterator[RunningServer]:
    running = RunningServer(
        ServeSettings(export_dir=trained["exports"], port=0, poll_interval=0.2)
    ).start()
    yield running
    running.stop(grace=1.0)


def test_predict_server_prints_the_auc_of_labelled_data(
    trained: dict[str, str], server: RunningServer
) -> None:
    output = _run("predict", "--server", server.address, "--data", trained["eval"])

    line = output.strip().splitlines()[-1]
    assert line.startswith("auc=")
    assert 0.0 < float(line.split()[0].removeprefix("auc=")) <= 1.0
    assert "model_version=15" in line


def test_predict_server_writes_every_score_with_out(
    trained: dict[str, str], server: RunningServer, tmp_path: Path
) -> None:
    out = tmp_path / "scores.txt"

    _run(
        "predict",
        "--server",
        server.address,
        "--data",
        trained["eval"],
        "--limit",
        "7",
        "--out",
        str(out),
    )

    scores = [float(x) for x in out.read_text().split()]
    assert len(scores) == 7
    assert all(0.0 < s < 1.0 for s in scores)


def test_the_library_call_returns_scores_in_data_order(
    trained: dict[str, str], server: RunningServer
) -> None:
    first = predict_remote(server.address, trained["eval"], limit=20, batch_size=7)
    again = predict_remote(server.address, trained["eval"], limit=5, batch_size=2)

    assert first.scores.shape == (20,)
    np.testing.assert_allclose(again.scores, first.scores[:5], rtol=1e-6)


def test_predict_server_against_nothing_fails_naming_the_address(
    trained: dict[str, str],
) -> None:
    result = CliRunner().invoke(
        cli, ["predict", "--server", "127.0.0.1:1", "--data", trained["eval"]]
    )

    assert result.exit_code == 11
    assert "127.0.0.1:1" in result.output


def test_realtime_training_changes_served_scores_without_a_new_version(
    trained: dict[str, str], server: RunningServer
) -> None:
    before = predict_remote(server.address, trained["eval"], limit=50)

    _run(
        "train",
        "--task",
        TASK,
        "--data",
        trained["train"],
        "--model-dir",
        trained["model"],
        "--steps",
        "25",
        "--batch-size",
        "64",
        "--realtime",
        "--serving",
        server.address,
        "--sync-interval",
        "0.2",
    )
    after = predict_remote(server.address, trained["eval"], limit=50)

    assert after.model_version == before.model_version == 15
    assert not np.allclose(before.scores, after.scores)


def test_realtime_needs_serving_addresses(trained: dict[str, str]) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--task",
            TASK,
            "--data",
            trained["train"],
            "--model-dir",
            trained["model"],
            "--steps",
            "1",
            "--realtime",
        ],
    )

    assert result.exit_code == 2
    assert "needs both --realtime and --serving" in result.output


def test_the_demo_tail_exports_serves_and_predicts(
    trained: dict[str, str], tmp_path: Path
) -> None:
    lines: list[str] = []

    result = export_serve_predict(
        trained["model"], str(tmp_path), trained["eval"], echo=lines.append
    )

    assert result.examples > 0
    assert 0.0 < result.auc <= 1.0
    assert lines[-1] == "server stopped"
    assert "over gRPC" in lines[1]


def test_the_demo_ends_by_serving_and_predicting_over_grpc(tmp_path: Path) -> None:
    output = _run(
        "demo",
        "--out",
        str(tmp_path),
        "--rows",
        "3000",
        "--steps",
        "20",
        "--batch-size",
        "128",
    )

    lines = output.strip().splitlines()
    offline = next(line for line in lines if line.startswith("auc="))
    served = next(line for line in lines if "(over gRPC)" in line)
    assert lines[-1] == "server stopped"
    assert any(line.startswith("exported version=20") for line in lines)
    offline_auc = float(offline.split()[0].removeprefix("auc="))
    served_auc = float(served.split("auc=")[1].split()[0])
    assert served_auc == pytest.approx(offline_auc, abs=0.01)
