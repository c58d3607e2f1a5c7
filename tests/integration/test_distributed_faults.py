"""Fault tolerance of multi-process training, with real processes and kill -9.

Every case uses a short RPC deadline (3 s) and barrier pending limit (3 s) so
that errors surface quickly; every wait on a process has a timeout, so a hang
fails the test instead of stalling it.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.dist_support import (
    MONOLITH,
    Proc,
    datagen,
    discovery_flags,
    ps_argv,
    wait_for_text,
)
from tests.integration.netns import NetnsLink, netns_unavailable_reason

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

RPC_DEADLINE_SETS = [
    "--set", "max_rpc_deadline_millis=3000",
    "--set", "max_pending_seconds_for_barrier=3",
    "--set", "chief_timeout_secs=60",
    "--set", "log_step_count_steps=20",
]  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "data"
    datagen(out, rows=6000, seed=11)
    return out


class Job:
    """PS and worker processes of one test job, all killed at the end."""

    def __init__(self, tmp_path: Path, data_dir: Path, num_workers: int) -> None:
        self.tmp = tmp_path
        self.discovery_dir = tmp_path / "discovery"
        self.discovery = ("file", str(self.discovery_dir), "faults")
        self.model_dir = tmp_path / "model"
        self.data = str(data_dir / "train-*")
        self.num_workers = num_workers
        self.procs: list[Proc] = []
        self._runs = 0

    def start_ps(
        self, index: int, wrap: NetnsLink | None = None, host: str = "127.0.0.1"
    ) -> Proc:
        argv = ps_argv(index, 2, self.discovery, host=host)
        if wrap is not None:
            argv = wrap.wrap(argv)
        return self._spawn(f"ps{index}", argv)

    def start_worker(self, index: int, steps: int, extra: tuple[str, ...] = ()) -> Proc:
        argv = [
            MONOLITH, "worker", "--index", str(index), "--num-ps", "2",
            "--num-workers", str(self.num_workers), *discovery_flags(self.discovery),
            "--task", "examples.ctr.DeepFM", "--task-option", "hidden=16",
            "--data", self.data, "--model-dir", str(self.model_dir),
            "--steps", str(steps), "--batch-size", "64", "--save-steps", "20",
            "--threads", "1", "--wait-secs", "60", *RPC_DEADLINE_SETS, *extra,
        ]  # fmt: skip
        return self._spawn(f"worker{index}", argv)

    def _spawn(self, name: str, argv: list[str]) -> Proc:
        self._runs += 1
        proc = Proc(f"{self._runs:02d}-{name}", argv, self.tmp)
        self.procs.append(proc)
        return proc

    def registered(self, name: str, index: int) -> str | None:
        path = self.discovery_dir / f"{name}.{index}"
        return path.read_text().strip() if path.exists() else None

    def wait_registered(self, name: str, index: int, other_than: str | None) -> str:
        for _ in range(600):
            addr = self.registered(name, index)
            if addr is not None and addr != other_than:
                return addr
            time.sleep(0.1)
        raise AssertionError(f"{name}.{index} never registered a new address")

    def newest_checkpoint(self) -> int:
        steps = [
            int(m.group(1))
            for p in self.model_dir.glob("checkpoint-*.json")
            if (m := re.fullmatch(r"checkpoint-(\d+)\.json", p.name))
        ]
        assert steps, "no checkpoint was written"
        return max(steps)

    def verify_checkpoints(self) -> str:
        result = subprocess.run(
            [MONOLITH, "checkpoints", "verify", str(self.model_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()


@pytest.fixture
def job2(tmp_path: Path, data_dir: Path) -> Iterator[Job]:
    job = Job(tmp_path, data_dir, num_workers=2)
    yield job
    job.close()


def test_a_killed_worker_does_not_hold_the_barrier_and_the_others_finish(
    job2: Job,
) -> None:
    ps = [job2.start_ps(i) for i in range(2)]
    chief = job2.start_worker(0, steps=150)
    worker = job2.start_worker(1, steps=150)
    wait_for_text(worker, "training started", 120)
    wait_for_text(chief, "checkpoint saved step=", 120)

    worker.kill()
    chief_code = chief.wait(180)
    ps_codes = [p.wait(60) for p in ps]

    log = chief.log()
    assert chief_code == 0, log[-3000:]
    assert "workers expired indices=1" in log or "pending limit passed" in log
    assert "global_step=150" in log
    assert ps_codes == [0, 0]
    job2.verify_checkpoints()
    assert job2.newest_checkpoint() == 150


def test_a_killed_ps_fails_the_workers_clearly_and_a_restart_resumes(
    job2: Job,
) -> None:
    ps = [job2.start_ps(i) for i in range(2)]
    chief = job2.start_worker(0, steps=120)
    worker = job2.start_worker(1, steps=120)
    wait_for_text(chief, "checkpoint saved step=", 120)
    dead_addr = job2.registered("ps", 1)

    ps[1].kill()
    codes = [chief.wait(60), worker.wait(60)]
    logs = chief.log() + worker.log()
    newest = job2.newest_checkpoint()
    job2.verify_checkpoints()
    restarted_ps = job2.start_ps(1)
    job2.wait_registered("ps", 1, other_than=dead_addr)
    chief = job2.start_worker(0, steps=120)
    worker = job2.start_worker(1, steps=120)
    resumed = [chief.wait(180), worker.wait(180)]

    assert all(code != 0 for code in codes), codes
    assert f"parameter server shard 1 at {dead_addr} is unavailable" in logs
    assert resumed == [0, 0], chief.log()[-3000:]
    assert f"restored from checkpoint-{newest}" in chief.log()
    assert "global_step=120" in chief.log()
    assert [ps[0].wait(60), restarted_ps.wait(60)] == [0, 0]
    job2.verify_checkpoints()
    assert job2.newest_checkpoint() == 120


def test_with_a_retry_allowed_the_job_continues_after_the_ps_restarts(
    job2: Job,
) -> None:
    retry = ("--set", "max_retry_times=1")
    ps = [job2.start_ps(i) for i in range(2)]
    chief = job2.start_worker(0, steps=160, extra=retry)
    worker = job2.start_worker(1, steps=160, extra=retry)
    wait_for_text(worker, "training started", 120)
    wait_for_text(chief, "checkpoint saved step=", 120)
    dead_addr = job2.registered("ps", 1)

    ps[1].kill()
    restarted_ps = job2.start_ps(1)
    job2.wait_registered("ps", 1, other_than=dead_addr)
    codes = [chief.wait(180), worker.wait(180)]

    log = chief.log()
    assert codes == [0, 0], log[-3000:] + worker.log()[-2000:]
    recovered = re.search(r"ps recovered step=(\d+)", log)
    assert recovered, log[-3000:]
    assert f"restored from checkpoint-{recovered.group(1)}" in log
    assert "ps lost, waiting for the chief to recover index=1" in worker.log()
    assert "global_step=160" in log
    assert [ps[0].wait(60), restarted_ps.wait(60)] == [0, 0]
    job2.verify_checkpoints()
    assert job2.newest_checkpoint() == 160


def test_a_killed_chief_fails_the_workers_clearly_and_a_restart_resumes(
    job2: Job,
) -> None:
    ps = [job2.start_ps(i) for i in range(2)]
    chief = job2.start_worker(0, steps=120)
    worker = job2.start_worker(1, steps=120)
    wait_for_text(worker, "training started", 120)
    wait_for_text(chief, "checkpoint saved step=", 120)
    dead_chief = job2.registered("chief", 0)

    chief.kill()
    worker_code = worker.wait(60)
    worker_log = worker.log()
    newest = job2.newest_checkpoint()
    ps_survived = all(p.running() for p in ps)
    chief = job2.start_worker(0, steps=120)
    job2.wait_registered("chief", 0, other_than=dead_chief)
    worker = job2.start_worker(1, steps=120)
    resumed = [chief.wait(180), worker.wait(180)]

    assert worker_code != 0
    assert f"the chief's coordinator at {dead_chief} did not answer" in worker_log
    assert ps_survived
    assert resumed == [0, 0], chief.log()[-3000:]
    assert f"restored from checkpoint-{newest}" in chief.log()
    assert [p.wait(60) for p in ps] == [0, 0]
    job2.verify_checkpoints()
    assert job2.newest_checkpoint() == 120


def test_with_a_retry_allowed_workers_wait_out_a_chief_restart(job2: Job) -> None:
    retry = ("--set", "max_retry_times=1")
    # Enough steps that the restarted chief, alone, is still training when
    # the worker's calls to the old one time out (3 s) and it rejoins.
    steps = 600
    ps = [job2.start_ps(i) for i in range(2)]
    chief = job2.start_worker(0, steps=steps, extra=retry)
    worker = job2.start_worker(1, steps=steps, extra=retry)
    wait_for_text(worker, "training started", 120)
    wait_for_text(chief, "checkpoint saved step=", 120)

    chief.kill()
    newest = job2.newest_checkpoint()
    chief = job2.start_worker(0, steps=steps, extra=retry)
    codes = [chief.wait(180), worker.wait(180)]

    assert codes == [0, 0], chief.log()[-3000:] + worker.log()[-3000:]
    assert "chief lost, waiting for a new chief index=1" in worker.log()
    assert f"restored from checkpoint-{newest}" in chief.log()
    assert f"global_step={steps}" in chief.log()
    assert [p.wait(60) for p in ps] == [0, 0]
    job2.verify_checkpoints()


def test_a_network_cut_to_a_ps_fires_the_deadline_and_the_job_resumes_after(
    tmp_path: Path, data_dir: Path
) -> None:
    reason = netns_unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    link = NetnsLink("cut")
    job = Job(tmp_path, data_dir, num_workers=1)
    try:
        ps0 = job.start_ps(0)
        ps1 = job.start_ps(1, wrap=link, host=link.ns_ip)
        chief = job.start_worker(0, steps=150)
        wait_for_text(chief, "checkpoint saved step=", 120)

        link.cut()
        cut_code = chief.wait(90)
        cut_log = chief.log()
        newest = job.newest_checkpoint()
        link.restore()
        resumed = job.start_worker(0, steps=150)
        resumed_code = resumed.wait(180)

        assert cut_code != 0
        assert f"parameter server shard 1 at {link.ns_ip}:" in cut_log
        assert "deadline" in cut_log
        assert resumed_code == 0, resumed.log()[-3000:]
        assert f"restored from checkpoint-{newest}" in resumed.log()
        assert [ps0.wait(60), ps1.wait(60)] == [0, 0]
        job.verify_checkpoints()
    finally:
        job.close()
        link.close()
