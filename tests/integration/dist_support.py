"""Helpers for the distributed-training tests: ports, processes, logs."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


MONOLITH = str(Path(sys.executable).with_name("monolith"))


def ps_argv(
    index: int, num_ps: int, discovery: Sequence[str], host: str = "127.0.0.1"
) -> list[str]:
    """`monolith ps` for PS ``index``; ``discovery`` is (kind, where, job)."""
    kind, where, job = discovery
    args = [MONOLITH, "ps", "--index", str(index), "--num-ps", str(num_ps)]
    args += ["--discovery", kind, "--job-name", job, "--port", "0", "--host", host]
    if kind == "zk":
        return args + ["--zk-servers", where]
    return args + ["--set", f"file_discovery_dir={where}"]


def discovery_flags(discovery: Sequence[str]) -> list[str]:
    """`monolith worker` flags for (kind, where, job)."""
    kind, where, job = discovery
    flags = ["--discovery", kind, "--job-name", job]
    if kind == "zk":
        return flags + ["--zk-servers", where]
    return flags + ["--discovery-dir", where]


class Proc:
    """A child process with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        logdir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = logdir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115  (closed in wait/kill)
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("OMP_NUM_THREADS", "1")
        self.popen = subprocess.Popen(
            list(argv), stdout=self._log, stderr=subprocess.STDOUT, env=full_env
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        """The exit code; kills the process and fails if it outlives ``timeout``."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.name} still running after {timeout}s; log:\n"
                f"{self.log()[-3000:]}"
            ) from None
        self._log.close()
        return code

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            self.popen.wait(30)
        self._log.close()

    def running(self) -> bool:
        return self.popen.poll() is None


def wait_for_text(proc: Proc, text: str, timeout: float) -> None:
    """Wait until ``text`` appears in the process's log."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in proc.log():
            return
        if not proc.running():
            break
        time.sleep(0.1)
    raise AssertionError(f"{proc.name} never logged {text!r}:\n{proc.log()[-3000:]}")


# A task small enough to learn in about a thousand steps on two cores.
TASK_OPTIONS = [
    "--task-option",
    "hidden=16",
    "--task-option",
    "table_learning_rate=0.5",
    "--task-option",
    "learning_rate=0.1",
]


def datagen(out: Path, rows: int, seed: int, shards: int = 4) -> dict[str, float]:
    """``monolith datagen`` into ``out`` (3 slots, vocab 50); its meta.json."""
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
            str(shards),
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
