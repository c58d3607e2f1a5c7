"""Export and serving through the FileSystem port: memory:// and local dirs."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
from click.testing import CliRunner

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.storage.hdfs import WebHdfsFileSystem
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.app.cli.main import cli
from monolith.app.export.exporter import ExportRequest
from monolith.app.export.wiring import run_export
from monolith.app.serving.backends import make_compute
from monolith.app.serving.model import load_export
from monolith.app.serving.service import PredictionService
from monolith.domain.batch import RaggedFids
from monolith.domain.errors import QuantizationError
from monolith.domain.serving import PredictRequest
from monolith.testing.webhdfs_server import WebHdfsTestServer
from tests.serving_support.checkpoints import write_checkpoint

pytestmark = pytest.mark.integration


class _WatchedMemory(InMemoryFileSystem):
    """Records, for every file written, whether the watched path existed."""

    def __init__(self, watched: str) -> None:
        super().__init__()
        self.watched = watched
        self.seen_while_writing: list[bool] = []

    @contextlib.contextmanager
    def atomic_write(self, path: str) -> Iterator[BinaryIO]:
        self.seen_while_writing.append(self.exists(self.watched))
        with super().atomic_write(path) as handle:
            yield handle


class _Metrics:
    def observe_request(self, method: str, code: str, seconds: float) -> None:
        pass

    def set_model_version(self, version: int) -> None:
        pass

    def observe_sync_lag(self, seconds: float) -> None:
        pass


def _request() -> PredictRequest:
    return PredictRequest(
        slots={
            "user_id": RaggedFids.from_lists([[-50, -43], [999]]),
            "item_id": RaggedFids.from_lists([[-36], []]),
        },
        dense=np.ones(6, dtype=np.float32),
        batch_size=2,
    )


@pytest.fixture()
def model_dir(tmp_path: Path) -> str:
    path = str(tmp_path / "model")
    write_checkpoint(path, step=30)
    return path


def test_an_export_to_memory_appears_only_when_complete(model_dir: str) -> None:
    fs = _WatchedMemory("memory://exports/30")

    result = run_export(
        ExportRequest(model_dir, "memory://exports", quantize_bits=8), output_fs=fs
    )

    assert result.path == "memory://exports/30"
    assert fs.seen_while_writing and not any(fs.seen_while_writing)
    assert fs.listdir("memory://exports") == ["30"]
    assert "export.json" in fs.listdir("memory://exports/30")


def test_a_memory_export_scores_like_the_same_export_on_local_disk(
    model_dir: str, tmp_path: Path
) -> None:
    fs = InMemoryFileSystem()
    local = run_export(ExportRequest(model_dir, str(tmp_path / "exports")))

    remote = run_export(ExportRequest(model_dir, "memory://e"), output_fs=fs)

    expected = load_export(local.path, make_compute).predict(_request())
    served = load_export(remote.path, make_compute, fs=fs).predict(_request())
    np.testing.assert_array_equal(served, expected)
    assert remote.manifest.tables == local.manifest.tables


def test_the_service_serves_the_newest_version_from_memory(model_dir: str) -> None:
    fs = InMemoryFileSystem()
    run_export(ExportRequest(model_dir, "memory://srv", model_version=1), output_fs=fs)
    run_export(ExportRequest(model_dir, "memory://srv", model_version=2), output_fs=fs)
    fs.makedirs("memory://srv/.tmp-3-abcd")

    service = PredictionService(
        "memory://srv",
        lambda path: load_export(path, make_compute, fs=fs),
        _Metrics(),
        ManualClock(),
        fs=fs,
    )

    assert service.available_versions() == [1, 2]
    assert service.refresh() is True
    assert service.status().model_version == 2


def test_a_rejected_memory_export_is_kept_aside_unpublished(model_dir: str) -> None:
    fs = InMemoryFileSystem()

    with pytest.raises(QuantizationError, match="not published"):
        run_export(
            ExportRequest(model_dir, "memory://q", quantize_bits=8, max_error=0.0),
            output_fs=fs,
        )

    assert fs.listdir("memory://q") == [".rejected-30"]
    assert fs.exists("memory://q/.rejected-30/validation.json")


def test_overwriting_a_memory_export_replaces_it_whole(model_dir: str) -> None:
    fs = InMemoryFileSystem()
    run_export(ExportRequest(model_dir, "memory://o", quantize_bits=16), output_fs=fs)

    run_export(ExportRequest(model_dir, "memory://o", overwrite=True), output_fs=fs)

    assert fs.listdir("memory://o") == ["30"]
    assert not fs.exists("memory://o/30/tables/user/scales.npy")
    model = load_export("memory://o/30", make_compute, fs=fs)
    assert model.manifest.quantize_bits == 32


def test_the_cli_exports_to_a_memory_uri(model_dir: str, tmp_path: Path) -> None:
    base = f"memory://cli-{uuid.uuid4().hex}"
    warmup = tmp_path / "warmup.req"
    warmup.write_bytes(b"requests")

    result = CliRunner().invoke(
        cli,
        [
            "export",
            "--checkpoint",
            model_dir,
            "--output",
            base,
            "--warmup",
            str(warmup),
        ],
    )

    assert result.exit_code == 0, result.output
    model = load_export(f"{base}/30", make_compute)
    assert model.manifest.warmup_files == ("assets.extra/tf_serving_warmup_requests",)
    assert model.predict(_request()).shape == (2,)


@pytest.mark.slow
def test_an_export_to_webhdfs_is_published_by_one_directory_rename(
    model_dir: str, tmp_path: Path
) -> None:
    with WebHdfsTestServer(str(tmp_path / "hdfs-root")) as server:
        fs = WebHdfsFileSystem(server.authority, user="tester")
        base = f"hdfs://{server.authority}/user/tester/exports"
        run_export(ExportRequest(model_dir, base, quantize_bits=16), output_fs=fs)

        result = run_export(
            ExportRequest(model_dir, base, quantize_bits=8, overwrite=True),
            output_fs=fs,
        )

        assert fs.listdir(base) == ["30"]
        model = load_export(result.path, make_compute, fs=fs)
        assert model.manifest.quantize_bits == 8
        assert model.predict(_request()).shape == (2,)
