"""Multi-process training through the CLI: 2 PS + 2 workers through ZooKeeper."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.dist_support import (
    MONOLITH,
    TASK_OPTIONS,
    Proc,
    datagen,
    discovery_flags,
    evaluate,
    ps_argv,
)

zk_fixtures = pytest.importorskip(
    "tests.integration.zk_fixtures", reason="ZooKeeper fixtures come with issue #7"
)
ZkServer = zk_fixtures.ZkServer
requires_zookeeper = zk_fixtures.requires_zookeeper

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]


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
