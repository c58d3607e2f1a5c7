"""Network addresses as discovery carries them: ``host:port``.

A host is a DNS name, an IPv4 address, or an IPv6 address in square brackets
(``[::1]:2222``). The port is a decimal integer in 0..65535 (0 means "let the
OS choose" and is accepted, since a process may announce it before binding).
"""

from __future__ import annotations

import ipaddress
import re

import attrs

from monolith.domain.errors import DiscoveryError

_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$"
)
_EXPECTED = "expected host:port, e.g. 10.0.0.1:2222, ps-0.svc:2222 or [::1]:2222"


@attrs.frozen
class Address:
    """A parsed ``host:port``; ``host`` is kept without IPv6 brackets."""

    host: str
    port: int

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.is_ipv6 else self.host
        return f"{host}:{self.port}"


def parse_address(addr: str) -> Address:
    """Parse and validate ``host:port``.

    Args:
        addr: ``host:port``; an IPv6 host must be in brackets.

    Returns:
        The parsed address; ``str()`` of it gives back the canonical text.

    Raises:
        DiscoveryError: the address is malformed; the message names it.
    """
    if not isinstance(addr, str) or not addr:
        raise DiscoveryError(f"invalid address {addr!r}: {_EXPECTED}")
    if addr.startswith("["):
        close = addr.find("]")
        if close < 0 or addr[close + 1 : close + 2] != ":":
            raise DiscoveryError(
                f"invalid address {addr!r}: an IPv6 host needs ']:' before the "
                f"port; {_EXPECTED}"
            )
        host, port_text = addr[1:close], addr[close + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise DiscoveryError(
                f"invalid address {addr!r}: {host!r} is not an IPv6 address"
            ) from exc
    else:
        host, sep, port_text = addr.rpartition(":")
        if not sep or not host:
            raise DiscoveryError(f"invalid address {addr!r}: {_EXPECTED}")
        if ":" in host:
            raise DiscoveryError(
                f"invalid address {addr!r}: an IPv6 host must be in brackets; "
                f"{_EXPECTED}"
            )
        if not _HOSTNAME_RE.match(host):
            raise DiscoveryError(
                f"invalid address {addr!r}: {host!r} is not a host name or IPv4"
            )
    return Address(host, _parse_port(addr, port_text))


def validate_address(addr: str) -> str:
    """Return ``addr`` unchanged if it is a valid ``host:port``, else raise.

    Raises:
        DiscoveryError: the address is malformed; the message names it.
    """
    parse_address(addr)
    return addr


def _parse_port(addr: str, text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise DiscoveryError(
            f"invalid address {addr!r}: port {text!r} is not a number; {_EXPECTED}"
        )
    port = int(text)
    if port > 65535:
        raise DiscoveryError(
            f"invalid address {addr!r}: port {port} is out of range 0..65535"
        )
    return port


_ROLE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def validate_role(name: str, index: int) -> None:
    """Check a discovery role name and task index.

    A name is 1-64 letters, digits, ``_`` or ``-`` (no dots: backends join
    name and index as ``<name>.<index>``); an index is an integer ``>= 0``.

    Raises:
        DiscoveryError: the name or index is not acceptable; the message names it.
    """
    if not isinstance(name, str) or not _ROLE_RE.match(name):
        raise DiscoveryError(
            f"invalid role name {name!r}: expected 1-64 letters, digits, '_' or '-'"
        )
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise DiscoveryError(
            f"invalid task index {index!r} for role {name!r}: expected an int >= 0"
        )


def node_name(name: str, index: int) -> str:
    """``<name>.<index>``: how backends that key by one string name a task."""
    validate_role(name, index)
    return f"{name}.{index}"


def parse_node_name(node: str) -> tuple[str, int] | None:
    """The ``(name, index)`` of a ``<name>.<index>`` key, or None if it is not one."""
    name, sep, index_text = node.rpartition(".")
    if not sep or not _ROLE_RE.match(name) or not index_text.isdigit():
        return None
    if not index_text.isascii():
        return None
    return name, int(index_text)
