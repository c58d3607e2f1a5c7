"""Sync-dense training through the CLI under torchrun and mpirun, against 2 PS."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.dist_support import (
    MONOLITH,
    TASK_OPTIONS,
    Proc,
    datagen,
    discovery_flags,
    evaluate,
    free_port,
    ps_argv,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]


def _worker_argv(tmp_path: Path, discovery: tuple[str, str, str]) -> list[str]:
    """``monolith worker`` in sync mode; rank and size come from the launcher."""
    return [
        MONOLITH,
        "worker",
        "--mode",
        "sync",
        "--num-ps",
        "2",
        *discovery_flags(discovery),
        "--task",
        "examples.ctr.DeepFM",
        *TASK_OPTIONS,
        "--data",
        str(tmp_path / "data" / "train-*"),
        "--model-dir",
        str(tmp_path / "model"),
        "--steps",
        "60",
        "--batch-size",
        "128",
        "--save-steps",
        "25",
        "--threads",
        "1",
        "--wait-secs",
        "60",
    ]


def _train_under(
    tmp_path: Path, launcher_argv: Callable[[list[str]], list[str]], rank_var: str
) -> None:
    """2 PS, 2 sync ranks started by a launcher; checks they trained as one
    and took their rank from the launcher's ``rank_var``."""
    datagen(tmp_path / "data", rows=6000, seed=3)
    discovery = ("file", str(tmp_path / "discovery"), "sync")
    model_dir = tmp_path / "model"
    ps = [Proc(f"ps{i}", ps_argv(i, 2, discovery), tmp_path) for i in range(2)]

    launcher = Proc(
        "launcher", launcher_argv(_worker_argv(tmp_path, discovery)), tmp_path
    )
    code = launcher.wait(300)
    ps_codes = [p.wait(60) for p in ps]
    log = launcher.log()

    assert code == 0, log[-3000:]
    assert ps_codes == [0, 0]
    assert "index=0 chief=true mode=sync" in log
    assert "index=1 chief=false mode=sync" in log
    assert log.count(f"sync rank from launcher rank=0 size=2 source={rank_var}") == 1
    assert log.count(f"sync rank from launcher rank=1 size=2 source={rank_var}") == 1
    digests = re.findall(r"sync dense parameters rank=(\d) digest=(\w+)", log)
    assert sorted(rank for rank, _ in digests) == ["0", "1"]
    assert len({digest for _, digest in digests}) == 1
    saved = sorted(
        int(p.stem.split("-")[1])
        for p in model_dir.glob("*.json")
        if p.stem.startswith("checkpoint-")
    )
    assert saved == [25, 50, 60]
    assert evaluate(model_dir, str(tmp_path / "data" / "eval-*")) > 0.55


def test_sync_dense_mode_trains_under_torchrun_with_identical_dense_parameters(
    tmp_path: Path,
) -> None:
    def torchrun(worker: list[str]) -> list[str]:
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(free_port()),
            "--no-python",
            *worker,
        ]

    _train_under(tmp_path, torchrun, "RANK")


@pytest.mark.skipif(
    shutil.which("mpirun") is None,
    reason="needs OpenMPI's mpirun (.ci/run installs openmpi-bin)",
)
def test_sync_dense_mode_trains_under_mpirun_with_ranks_from_openmpi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI runs as root, which mpirun refuses unless told twice.
    monkeypatch.setenv("OMPI_ALLOW_RUN_AS_ROOT", "1")
    monkeypatch.setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")

    def mpirun(worker: list[str]) -> list[str]:
        return [
            "mpirun",
            "--oversubscribe",
            "-np",
            "2",
            "--mca",
            "btl_tcp_if_include",
            "lo",
            "-x",
            "MASTER_ADDR=127.0.0.1",
            "-x",
            f"MASTER_PORT={free_port()}",
            *worker,
        ]

    _train_under(tmp_path, mpirun, "OMPI_COMM_WORLD_RANK")
