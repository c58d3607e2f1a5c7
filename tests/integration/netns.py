"""Network namespaces joined to the host by a veth pair, for network-cut tests.

``NetnsLink`` creates namespace ``<name>`` and a veth pair, host side
``<ip_prefix>.1/30`` and namespace side ``<ip_prefix>.2/30``; a process
started with :meth:`NetnsLink.wrap` runs inside the namespace and is
reachable from the host at :attr:`NetnsLink.ns_ip`. :meth:`cut` takes the
host side of the link down, so packets are silently dropped (no reset), as
with a pulled cable; :meth:`restore` brings it back.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Sequence


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", *args], capture_output=True, text=True, check=check, timeout=10
    )


def netns_unavailable_reason() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if shutil.which("ip") is None:
        return "the `ip` tool (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    name = f"monolith-probe-{os.getpid()}"
    try:
        created = _ip("netns", "add", name, check=False)
        if created.returncode != 0:
            return f"`ip netns add` is refused: {created.stderr.strip()}"
        veth = _ip(
            "link",
            "add",
            f"mpr{os.getpid() % 100000}",
            "type",
            "veth",
            "peer",
            "name",
            f"mpq{os.getpid() % 100000}",
            check=False,
        )
        if veth.returncode != 0:
            return f"creating a veth pair is refused: {veth.stderr.strip()}"
        _ip("link", "del", f"mpr{os.getpid() % 100000}", check=False)
        return None
    finally:
        _ip("netns", "del", name, check=False)


class NetnsLink:
    """A namespace plus a veth pair to the host; delete it with :meth:`close`."""

    def __init__(self, tag: str) -> None:
        suffix = f"{os.getpid() % 10000}{random.randrange(100)}"
        self.name = f"mono-{tag}-{suffix}"
        self.host_if = f"mh{suffix}"
        self.ns_if = f"mn{suffix}"
        prefix = f"10.{random.randrange(100, 250)}.{random.randrange(1, 250)}"
        base = random.randrange(0, 63) * 4
        self.host_ip = f"{prefix}.{base + 1}"
        self.ns_ip = f"{prefix}.{base + 2}"
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _ip("link", "set", self.ns_if, "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            self._in_ns("ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            self._in_ns("ip", "link", "set", self.ns_if, "up")
            self._in_ns("ip", "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    def _in_ns(self, *argv: str) -> None:
        subprocess.run(
            ["ip", "netns", "exec", self.name, *argv],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def cut(self) -> None:
        """Drop every packet between host and namespace."""
        _ip("link", "set", self.host_if, "down")

    def restore(self) -> None:
        """Undo :meth:`cut`."""
        _ip("link", "set", self.host_if, "up")

    def close(self) -> None:
        """Delete the veth pair and the namespace (idempotent)."""
        _ip("link", "del", self.host_if, check=False)
        _ip("netns", "del", self.name, check=False)
