"""A clock that moves only when told to, for tests and simulations."""

from __future__ import annotations

import threading


class ManualClock:
    """Time starts at ``start`` and advances by :meth:`advance` or :meth:`sleep`.

    ``sleep`` advances the clock instead of blocking, so code that waits on a
    deadline runs instantly under test.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        return self.now()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
