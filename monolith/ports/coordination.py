"""The coordination port: how a worker talks to the chief's coordinator.

The chief worker hosts the coordinator (see
:mod:`monolith.domain.coordination`); every other worker reaches it through
this port, in practice over gRPC. Each call is also a heartbeat: a worker that
stops calling for longer than the chief's liveness limit is treated as gone.

Errors: an unreachable chief raises
:class:`~monolith.domain.errors.CoordinatorUnavailableError` naming its
address once the call's deadline has passed; a refused transition (an index
out of range, an epoch never opened) raises
:class:`~monolith.domain.errors.BarrierError`.

Thread-safety: every method may be called from several threads.
"""

from __future__ import annotations

from typing import Protocol

from monolith.domain.coordination import CoordView


class Coordinator(Protocol):
    """The worker's side of the chief's coordinator."""

    def join(self, index: int) -> CoordView:
        """Worker ``index`` starts and takes part in barriers."""
        ...

    def leave(self, index: int) -> CoordView:
        """Worker ``index`` stops; barriers no longer wait for it."""
        ...

    def claim(self, index: int) -> CoordView:
        """Ask for the next global step; ``claimed_step`` is 0 when none is given."""
        ...

    def block(self, index: int, epoch: int) -> CoordView:
        """Report being blocked on barrier ``epoch``."""
        ...

    def status(self, index: int, epoch: int = 0) -> CoordView:
        """Heartbeat; ``released`` tells whether ``epoch`` (if not 0) is released."""
        ...

    def close(self) -> None:
        """Release the connection (idempotent)."""
        ...
