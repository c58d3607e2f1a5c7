"""`monolith ps` and `monolith cluster status` against a real ZooKeeper."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.integration.zk_fixtures import ZkServer, wait_until

kazoo_client = pytest.importorskip("kazoo.client")
pytest.importorskip("grpc")

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

MONOLITH = str(Path(sys.executable).with_name("monolith"))


def cluster_status(zk: ZkServer, job: str) -> str:
    done = subprocess.run(
        [
            MONOLITH,
            "cluster",
            "status",
            "--discovery",
            "zk",
            "--job-name",
            job,
            "--zk-servers",
            zk.hosts,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_ps_registers_an_ephemeral_node_is_listed_and_leaves_on_sigterm(
    zk_server: ZkServer, tmp_path: Path
) -> None:
    job = f"job-{uuid.uuid4().hex[:10]}"
    log = (tmp_path / "ps.log").open("wb")
    ps = subprocess.Popen(
        [
            MONOLITH,
            "ps",
            "--index",
            "1",
            "--num-ps",
            "2",
            "--num-workers",
            "1",
            "--discovery",
            "zk",
            "--job-name",
            job,
            "--zk-servers",
            zk_server.hosts,
            "--port",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = kazoo_client.KazooClient(hosts=zk_server.hosts)
    client.start(timeout=15)
    path = f"/monolith/{job}/ps.1"
    try:
        assert wait_until(lambda: client.exists(path) is not None, timeout=60), (
            tmp_path / "ps.log"
        ).read_text()
        data, stat = client.get(path)
        host, _, port = data.decode().rpartition(":")

        listing = cluster_status(zk_server, job)

        assert stat.ephemeralOwner != 0
        assert host == "127.0.0.1" and int(port) > 0
        assert f"ps 1 {data.decode()}" in listing.splitlines()
        assert "total=1" in listing

        ps.send_signal(signal.SIGTERM)
        assert ps.wait(timeout=60) == 0
        assert client.exists(path) is None
        assert "total=0" in cluster_status(zk_server, job)
        assert "ps stopped index=1" in (tmp_path / "ps.log").read_text()
    finally:
        if ps.poll() is None:
            ps.kill()
            ps.wait()
        log.close()
        client.stop()
        client.close()
