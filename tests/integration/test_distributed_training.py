"""Multi-process training through the CLI: 2 PS + 2 workers, ZooKeeper, torchrun."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.dist_support import (
    MONOLITH,
    Proc,
    discovery_flags,
    free_port,
    ps_argv,
)
from tests.integration.zk_fixtures import ZkServer, requires_zookeeper

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

# A task small enough to learn in about a thousand steps on two cores.
TASK_OPTIONS = [
    "--task-option",
    "hidden=16",
    "--task-option",
    "table_learning_rate=0.5",
    "--task-option",
    "learning_rate=0.1",
]


def datagen(out: Path, rows: int, seed: int) -> dict[str, float]:
    subprocess.run(
        [
            MONOLITH,
            "datagen",
            "--out",
            str(out),
            "--rows",
            str(rows),
            "--seed",
            str(seed),
            "--slots",
            "3",
            "--vocab-size",
            "50",
            "--shards",
            "4",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    meta: dict[str, float] = json.loads((out / "meta.json").read_text())
    return meta


def evaluate(model_dir: Path, data: str) -> float:
    result = subprocess.run(
        [MONOLITH, "evaluate", "--model-dir", str(model_dir), "--data", data],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    match = re.search(r"auc=([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


def worker_argv(index: int, common: list[str]) -> list[str]:
    return [MONOLITH, "worker", "--index", str(index), *common]


@requires_zookeeper
def test_two_ps_and_two_workers_through_zookeeper_reach_near_optimal_auc(
    tmp_path: Path, zk_server: ZkServer
) -> None:
    meta = datagen(tmp_path / "data", rows=30000, seed=7)
    discovery = ("zk", zk_server.hosts, f"auc-{tmp_path.name}")
    model_dir = tmp_path / "model"
    common = [
        "--num-ps",
        "2",
        "--num-workers",
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
        "1000",
        "--batch-size",
        "256",
        "--save-steps",
        "400",
        "--threads",
        "1",
        "--wait-secs",
        "60",
    ]
    ps = [Proc(f"ps{i}", ps_argv(i, 2, discovery), tmp_path) for i in range(2)]
    workers = [Proc(f"worker{i}", worker_argv(i, common), tmp_path) for i in range(2)]

    codes = [w.wait(360) for w in workers]
    ps_codes = [p.wait(60) for p in ps]
    auc = evaluate(model_dir, str(tmp_path / "data" / "eval-*"))

    assert codes == [0, 0], [w.log()[-2000:] for w in workers]
    assert ps_codes == [0, 0]
    assert "global_step=1000" in workers[0].log()
    assert "chief=false" in workers[1].log()
    assert auc >= meta["bayes_auc_eval"] - 0.03, (auc, meta["bayes_auc_eval"])


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
