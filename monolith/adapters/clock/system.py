"""The real clock: ``time.time``, ``time.monotonic`` and ``time.sleep``."""

from __future__ import annotations

import time


class SystemClock:
    """Wall and monotonic time from the operating system."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
