"""Sync-dense training through the CLI under torchrun, against 2 PS processes."""

from __future__ import annotations

import re
import sys
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


def test_sync_dense_mode_trains_under_torchrun_with_identical_dense_parameters(
    tmp_path: Path,
) -> None:
    datagen(tmp_path / "data", rows=6000, seed=3)
    discovery = ("file", str(tmp_path / "discovery"), "sync")
    model_dir = tmp_path / "model"
    ps = [Proc(f"ps{i}", ps_argv(i, 2, discovery), tmp_path) for i in range(2)]
    torchrun = [
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
        str(model_dir),
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

    launcher = Proc("torchrun", torchrun, tmp_path)
    code = launcher.wait(300)
    ps_codes = [p.wait(60) for p in ps]
    log = launcher.log()

    assert code == 0, log[-3000:]
    assert ps_codes == [0, 0]
    assert "index=0 chief=true mode=sync" in log
    assert "index=1 chief=false mode=sync" in log
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
