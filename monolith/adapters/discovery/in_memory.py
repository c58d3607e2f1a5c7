"""Discovery inside one process: a dict behind a lock, shareable by many clients."""

from __future__ import annotations

import logging
import threading

from monolith.adapters.discovery.closing import ClosingDiscovery
from monolith.domain.addresses import validate_address, validate_role
from monolith.domain.errors import DiscoveryError

logger = logging.getLogger(__name__)


class InMemoryRegistry:
    """The shared ``{name: {index: addr}}`` table several clients can use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, dict[int, str]] = {}


class InMemoryDiscovery(ClosingDiscovery):
    """ServiceDiscovery held in memory; the default for one-machine runs.

    Backend: a plain dict. Several ``InMemoryDiscovery`` objects built on the
    same :class:`InMemoryRegistry` see each other, like processes sharing a
    ZooKeeper; ``close`` withdraws only this object's registrations.

    Warning:
        Only threads of one process can share a registry; for several
        processes on one machine use
        :class:`~monolith.adapters.discovery.file_discovery.FileDiscovery`.
    """

    def __init__(self, registry: InMemoryRegistry | None = None) -> None:
        self._registry = registry if registry is not None else InMemoryRegistry()
        self._own: dict[tuple[str, int], str] = {}
        self._closed = False

    def register(self, name: str, index: int, addr: str) -> None:
        validate_role(name, index)
        validate_address(addr)
        with self._registry.lock:
            self._check_open()
            self._registry.entries.setdefault(name, {})[index] = addr
            self._own[(name, index)] = addr
        logger.debug("registered name=%s index=%d addr=%s", name, index, addr)

    def deregister(self, name: str, index: int, addr: str) -> None:
        validate_role(name, index)
        validate_address(addr)
        with self._registry.lock:
            self._check_open()
            self._withdraw(name, index, addr)

    def query(self, name: str) -> dict[int, str]:
        with self._registry.lock:
            self._check_open()
            return dict(self._registry.entries.get(name, {}))

    def close(self) -> None:
        with self._registry.lock:
            if self._closed:
                return
            for (name, index), addr in list(self._own.items()):
                self._withdraw(name, index, addr)
            self._closed = True

    def _withdraw(self, name: str, index: int, addr: str) -> None:
        role = self._registry.entries.get(name, {})
        if role.get(index) == addr:
            del role[index]
            if not role:
                self._registry.entries.pop(name, None)
        if self._own.get((name, index)) == addr:
            del self._own[(name, index)]

    def _check_open(self) -> None:
        if self._closed:
            raise DiscoveryError("in-memory discovery is closed; create a new one")
