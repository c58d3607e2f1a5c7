"""The service-discovery port: who plays which role at which address.

Names are role names (``ps``, ``worker``, ``serving``; letters, digits, ``_``
and ``-``); an index is the role's task number (``>= 0``). Addresses are
``host:port`` with IPv6 hosts in brackets (``[::1]:2222``), validated by
:func:`monolith.domain.addresses.parse_address`; a malformed address raises
:class:`~monolith.domain.errors.DiscoveryError` naming it, before anything is
sent to a backend.

Semantics every adapter keeps:
    * ``register`` of an index that is already registered replaces its address.
    * Names are isolated: registering ``ps`` never changes ``query("worker")``.
    * ``query`` returns a new dict (a copy); mutating it changes nothing. A
      registration made through this object is visible to its own ``query``
      as soon as ``register`` returns (read-your-writes); registrations of
      other processes appear as fast as the backend propagates them.
    * ``deregister`` withdraws ``(name, index)`` if it currently holds
      ``addr``; withdrawing something not registered is a no-op.
    * ``close`` is idempotent and releases threads, sessions and sockets;
      registrations made through this object are withdrawn. Any other call
      after ``close`` raises DiscoveryError.
    * Read-only adapters (TF_CONFIG, MLP env) accept ``register`` of the
      address the environment already names and refuse any other with
      DiscoveryError; ``deregister`` only hides an entry from ``query``.

Errors: backend failures (lost connection, refused ACL, timeouts) raise
DiscoveryError ``from`` the backend's exception; no backend exception escapes.

Thread-safety: every method may be called from several threads.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self


class ServiceDiscovery(Protocol):
    """Registers this process's roles and finds the others'."""

    def register(self, name: str, index: int, addr: str) -> None:
        """Announce that task ``index`` of role ``name`` listens on ``addr``.

        Raises:
            DiscoveryError: ``addr`` is malformed, the adapter is read-only and
                ``addr`` is not the one it knows, or the backend failed.
        """
        ...

    def deregister(self, name: str, index: int, addr: str) -> None:
        """Withdraw a registration made with the same arguments (no-op if absent).

        Raises:
            DiscoveryError: ``addr`` is malformed or the backend failed.
        """
        ...

    def query(self, name: str) -> dict[int, str]:
        """Every registered ``{index: addr}`` of role ``name`` (empty if none).

        Raises:
            DiscoveryError: the backend failed, or the adapter only knows some
                role names and ``name`` is not one of them.
        """
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
