"""File discovery registrations end with their process, SIGKILL included."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monolith.adapters.discovery.file_discovery import FileDiscovery

pytestmark = pytest.mark.integration

_REGISTER_AND_WAIT = """
import sys
from monolith.adapters.discovery.file_discovery import FileDiscovery

discovery = FileDiscovery(sys.argv[1])
discovery.register("ps", int(sys.argv[2]), sys.argv[3])
print("registered", flush=True)
sys.stdin.read()  # until the test closes stdin or kills us
"""


@pytest.fixture
def registrant(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.communicate(timeout=10)  # reaps it and closes its pipes


def _register_in_process(
    started: list[subprocess.Popen[str]], directory: Path, index: int, addr: str
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _REGISTER_AND_WAIT, str(directory), str(index), addr],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    started.append(process)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "registered"
    return process


def test_a_registration_disappears_when_its_process_is_killed(
    tmp_path: Path, registrant: list[subprocess.Popen[str]]
) -> None:
    first = _register_in_process(registrant, tmp_path, 0, "127.0.0.1:1000")
    _register_in_process(registrant, tmp_path, 1, "127.0.0.1:1001")
    reader = FileDiscovery(tmp_path)
    assert reader.query("ps") == {0: "127.0.0.1:1000", 1: "127.0.0.1:1001"}

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    assert reader.query("ps") == {1: "127.0.0.1:1001"}
    assert (tmp_path / "ps.0").exists()  # left behind, but no longer served


def test_a_killed_task_that_registers_again_is_found_at_its_new_address(
    tmp_path: Path, registrant: list[subprocess.Popen[str]]
) -> None:
    killed = _register_in_process(registrant, tmp_path, 0, "127.0.0.1:1000")
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    reader = FileDiscovery(tmp_path)
    assert reader.query("ps") == {}

    _register_in_process(registrant, tmp_path, 0, "127.0.0.1:2000")

    assert reader.query("ps") == {0: "127.0.0.1:2000"}


def test_a_registration_of_this_process_stays_visible_to_other_readers(
    tmp_path: Path,
) -> None:
    with FileDiscovery(tmp_path) as owner:
        owner.register("worker", 0, "127.0.0.1:3000")
        owner.register("worker", 0, "127.0.0.1:3001")  # re-registration

        assert FileDiscovery(tmp_path).query("worker") == {0: "127.0.0.1:3001"}
        assert owner.query("worker") == {0: "127.0.0.1:3001"}
    assert FileDiscovery(tmp_path).query("worker") == {}
