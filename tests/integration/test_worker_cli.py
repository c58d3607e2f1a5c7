"""`monolith worker` edge cases: missing roles time out clearly; realtime keeps PS."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.dist_support import (
    MONOLITH,
    Proc,
    datagen,
    discovery_flags,
    ps_argv,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("worker-cli") / "data"
    datagen(out, rows=3000, seed=2, shards=2)
    return out


def worker_args(
    tmp_path: Path, data_dir: Path, index: int, num_workers: int
) -> list[str]:
    discovery = ("file", str(tmp_path / "discovery"), "cli")
    return [
        MONOLITH, "worker", "--index", str(index), "--num-ps", "2",
        "--num-workers", str(num_workers), *discovery_flags(discovery),
        "--task", "examples.ctr.DeepFM", "--task-option", "hidden=8",
        "--data", str(data_dir / "train-*"), "--model-dir", str(tmp_path / "model"),
        "--steps", "30", "--batch-size", "64", "--threads", "1",
    ]  # fmt: skip


def test_a_worker_without_its_ps_and_chief_names_the_missing_roles(
    tmp_path: Path, data_dir: Path
) -> None:
    argv = worker_args(tmp_path, data_dir, 1, 2) + ["--wait-secs", "1"]

    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)

    assert result.returncode == 7, result.stderr[-2000:]
    assert "roles ps.0, ps.1, chief.0 did not register in discovery" in result.stderr


def test_in_realtime_mode_the_chief_leaves_the_ps_running(
    tmp_path: Path, data_dir: Path
) -> None:
    discovery = ("file", str(tmp_path / "discovery"), "cli")
    ps = [Proc(f"ps{i}", ps_argv(i, 2, discovery), tmp_path) for i in range(2)]
    try:
        chief = Proc(
            "chief",
            worker_args(tmp_path, data_dir, 0, 1)
            + ["--set", "enable_realtime_training=true", "--wait-secs", "60"],
            tmp_path,
        )

        code = chief.wait(180)

        assert code == 0, chief.log()[-3000:]
        assert "ps left running reason=realtime training" in chief.log()
        assert all(p.running() for p in ps)
    finally:
        for p in ps:
            p.kill()


def test_the_chief_starts_from_a_restore_dir_checkpoint_when_model_dir_is_empty(
    tmp_path: Path, data_dir: Path
) -> None:
    first = tmp_path / "first"
    first.mkdir()
    second = tmp_path / "second"
    second.mkdir()
    for job, extra in (
        (first, []),
        (second, ["--set", f"restore_dir={first / 'model'}"]),
    ):
        discovery = ("file", str(job / "discovery"), "restore")
        ps = [Proc(f"ps{i}", ps_argv(i, 2, discovery), job) for i in range(2)]
        steps = "30" if job is first else "50"
        chief = Proc(
            "chief",
            worker_args(job, data_dir, 0, 1)
            + ["--steps", steps, "--wait-secs", "60", *extra],
            job,
        )
        code = chief.wait(180)
        assert code == 0, chief.log()[-3000:]
        assert [p.wait(60) for p in ps] == [0, 0]

    log = chief.log()
    assert "restore copied step=30" in log
    assert "restored from checkpoint-30" in log
    assert "global_step=50" in log
    assert (second / "model" / "checkpoint-30.json").exists()
    assert (second / "model" / "checkpoint-50.json").exists()
