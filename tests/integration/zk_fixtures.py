"""Real ZooKeeper servers for tests: one standalone server or a 3-node ensemble.

Uses Debian's ``zookeeper`` package (``apt-get install zookeeper``): the
server runs as ``java ... QuorumPeerMain zoo.cfg`` on free 127.0.0.1 ports with
a short tick (100 ms), so sessions can be as short as 0.2-4 s and fault tests
stay quick. Tests skip when Java or the jar is missing.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ZK_JAR = Path("/usr/share/java/zookeeper.jar")
LOG_JARS = [
    Path("/usr/share/java/slf4j-log4j12.jar"),
    Path("/usr/share/java/log4j-1.2.jar"),
]
TICK_MS = 100
START_TIMEOUT = 30.0

LOG4J = """\
log4j.rootLogger=WARN, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d %p %c{1}: %m%n
"""


def zookeeper_available() -> bool:
    return ZK_JAR.exists() and shutil.which("java") is not None


requires_zookeeper = pytest.mark.skipif(
    not zookeeper_available(),
    reason="ZooKeeper needs `apt-get install -y zookeeper` (and java)",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def four_letter(port: int, word: str, timeout: float = 1.0) -> str:
    """Send a ZooKeeper four-letter command; empty string if unreachable."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


class ZkServer:
    """One ZooKeeper server process (standalone, or a member of an ensemble)."""

    def __init__(
        self,
        workdir: Path,
        client_port: int,
        myid: int | None = None,
        peers: list[tuple[int, int, int]] | None = None,
    ) -> None:
        self.workdir = workdir
        self.client_port = client_port
        self.myid = myid
        self.peers = peers or []
        self.process: subprocess.Popen[bytes] | None = None
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        (workdir / "conf").mkdir(exist_ok=True)
        (workdir / "conf" / "log4j.properties").write_text(LOG4J)
        lines = [
            f"tickTime={TICK_MS}",
            "initLimit=50",
            "syncLimit=20",
            f"dataDir={workdir / 'data'}",
            f"clientPort={client_port}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            f"minSessionTimeout={2 * TICK_MS}",
            f"maxSessionTimeout={60 * TICK_MS}",
            "4lw.commands.whitelist=ruok,srvr,stat,mntr",
            "autopurge.purgeInterval=0",
            "electionPortBindRetry=20",
        ]
        for peer_id, peer_port, election_port in self.peers:
            lines.append(f"server.{peer_id}=127.0.0.1:{peer_port}:{election_port}")
        if myid is not None:
            (workdir / "data" / "myid").write_text(f"{myid}\n")
        self.config = workdir / "conf" / "zoo.cfg"
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self, wait: bool = True) -> None:
        classpath = ":".join(
            [str(self.workdir / "conf"), str(ZK_JAR), *map(str, LOG_JARS)]
        )
        log = (self.workdir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                "java",
                "-Xmx96m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.jmx.log4j.disable=true",
                "-cp",
                classpath,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                str(self.config),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if wait:
            self.wait_serving()

    def mode(self) -> str:
        """``standalone``, ``leader``, ``follower`` or ``""`` when not serving."""
        for line in four_letter(self.client_port, "srvr").splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return ""

    def wait_serving(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"zookeeper exited early; see {self.log_tail()}")
            if self.mode():
                return
            time.sleep(0.1)
        raise RuntimeError(f"zookeeper not serving after {timeout}s: {self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        self._signal_and_wait(signal.SIGTERM)

    def kill(self) -> None:
        self._signal_and_wait(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _signal_and_wait(self, sig: int) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, lines: int = 20) -> str:
        path = self.workdir / "server.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class ZkEnsemble:
    """Three ZooKeeper servers forming a quorum on loopback."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        ids = list(range(1, size + 1))
        peers = [(i, free_port(), free_port()) for i in ids]
        self.servers = [
            ZkServer(workdir / f"zk{i}", free_port(), myid=i, peers=peers) for i in ids
        ]

    @property
    def hosts(self) -> str:
        return ",".join(s.hosts for s in self.servers)

    def start(self) -> None:
        for server in self.servers:
            server.start(wait=False)
        for server in self.servers:
            server.wait_serving()

    def leader(self) -> ZkServer:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for server in self.servers:
                if server.process is not None and server.mode() == "leader":
                    return server
            time.sleep(0.1)
        raise RuntimeError("no ZooKeeper leader elected")

    def stop(self) -> None:
        for server in self.servers:
            server.kill()


@contextlib.contextmanager
def running_server(workdir: Path) -> Iterator[ZkServer]:
    server = ZkServer(workdir, free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="session")
def zk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZkServer]:
    """A standalone ZooKeeper shared by a test session (one per xdist worker).

    Tests share it through unique job names; never stop or restart it.
    """
    if not zookeeper_available():
        pytest.skip("ZooKeeper needs `apt-get install -y zookeeper` (and java)")
    with running_server(tmp_path_factory.mktemp("zk-shared")) as server:
        yield server


@pytest.fixture
def zk_private_server(tmp_path: Path) -> Iterator[ZkServer]:
    """A standalone ZooKeeper that this one test may stop, kill or restart."""
    if not zookeeper_available():
        pytest.skip("ZooKeeper needs `apt-get install -y zookeeper` (and java)")
    with running_server(tmp_path / "zk") as server:
        yield server


@pytest.fixture(scope="module")
def zk_ensemble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZkEnsemble]:
    """A 3-node ensemble for the tests of one module (they may kill members)."""
    if not zookeeper_available():
        pytest.skip("ZooKeeper needs `apt-get install -y zookeeper` (and java)")
    ensemble = ZkEnsemble(tmp_path_factory.mktemp("zk-ensemble"))
    ensemble.start()
    try:
        yield ensemble
    finally:
        ensemble.stop()


def wait_until(
    predicate: object, timeout: float = 20.0, interval: float = 0.05
) -> bool:
    """Poll ``predicate()`` until true or ``timeout``; bounded, for real servers."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


__all__ = [
    "ZkEnsemble",
    "ZkServer",
    "free_port",
    "requires_zookeeper",
    "wait_until",
    "zk_ensemble",
    "zk_private_server",
    "zk_server",
]
