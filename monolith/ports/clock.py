"""The clock port: wall time and sleeping, injected so tests control time."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """A source of time. Thread-safe."""

    def now(self) -> float:
        """Seconds since the epoch (wall clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; for deadlines."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` (0 or less returns at once)."""
        ...
