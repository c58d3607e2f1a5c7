"""The service-discovery port: who plays which role at which address.

Names are role names (``ps``, ``worker``, ``serving``); an index is the
role's task number. Addresses are ``host:port`` with IPv6 hosts in brackets
(``[::1]:2222``); a malformed address raises
:class:`~monolith.domain.errors.DiscoveryError` naming it.

Semantics every adapter keeps:
    * ``register`` of an index that is already registered replaces its address.
    * Names are isolated: registering ``ps`` never changes ``query("worker")``.
    * ``query`` returns a new dict (a copy); mutating it changes nothing.
    * ``close`` is idempotent and releases threads, sessions and sockets;
      registrations made through this object are withdrawn.
    * Read-only adapters (TF_CONFIG, MLP env) accept ``register`` of the
      address the environment already names and refuse any other.

Thread-safety: every method may be called from several threads.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self


class ServiceDiscovery(Protocol):
    """Registers this process's roles and finds the others'."""

    def register(self, name: str, index: int, addr: str) -> None:
        """Announce that task ``index`` of role ``name`` listens on ``addr``."""
        ...

    def deregister(self, name: str, index: int, addr: str) -> None:
        """Withdraw a registration made with the same arguments."""
        ...

    def query(self, name: str) -> dict[int, str]:
        """Every registered ``{index: addr}`` of role ``name`` (empty if none)."""
        ...

    def close(self) -> None:
        """Withdraw this object's registrations and release its resources."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
