"""Shared behaviour of discovery adapters whose cluster is fixed by the environment."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from monolith.adapters.discovery.closing import ClosingDiscovery
from monolith.domain.addresses import parse_address, validate_role
from monolith.domain.errors import DiscoveryError

logger = logging.getLogger(__name__)

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})


class ReadOnlyDiscovery(ClosingDiscovery):
    """A fixed ``{name: {index: addr}}``; register/deregister only show/hide.

    ``register`` accepts the address the environment names for that task, or
    a local alias of it (``localhost``, ``127.0.0.1``, ``0.0.0.0``, ``::1``
    with the same port, since a process often binds a wildcard); anything
    else is a DiscoveryError. ``deregister`` hides the entry from ``query``.
    """

    def __init__(self, roles: Mapping[str, Mapping[int, str]], source: str) -> None:
        self._roles = {name: dict(entries) for name, entries in roles.items()}
        self._source = source
        self._hidden: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def register(self, name: str, index: int, addr: str) -> None:
        validate_role(name, index)
        given = parse_address(addr)
        known = self._known(name).get(index)
        if known is None:
            raise DiscoveryError(
                f"{self._source} names no {name}:{index}; it knows "
                f"{sorted(self._known(name))} (register only what it names)"
            )
        expected = parse_address(known)
        same = given == expected or (
            given.port == expected.port and given.host in LOCAL_HOSTS
        )
        if not same:
            raise DiscoveryError(
                f"{self._source} names {known!r} for {name}:{index}, not {addr!r}"
            )
        with self._lock:
            self._check_open()
            self._hidden.discard((name, index))

    def deregister(self, name: str, index: int, addr: str) -> None:
        validate_role(name, index)
        parse_address(addr)
        with self._lock:
            self._check_open()
            self._hidden.add((name, index))

    def query(self, name: str) -> dict[int, str]:
        known = self._known(name)
        with self._lock:
            self._check_open()
            return {i: a for i, a in known.items() if (name, i) not in self._hidden}

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def _known(self, name: str) -> dict[int, str]:
        if name not in self._roles:
            raise DiscoveryError(
                f"{self._source} discovery has no role {name!r}: expected one of "
                f"{sorted(self._roles)}"
            )
        return self._roles[name]

    def _check_open(self) -> None:
        if self._closed:
            raise DiscoveryError(f"{self._source} discovery is closed")
