"""Which update requests a parameter server has applied, so retries apply once.

A client that sees UNAVAILABLE cannot tell whether its request reached the
server: the connection may have broken after the update ran. It retries with
the same request id, and the server's :class:`RequestLedger` answers the
retry without running it again. A retry that arrives while the first attempt
is still running waits for it. When the first attempt failed, the retry runs.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 1 << 16
"""Request ids remembered; a retry comes within seconds, long before eviction."""


class _Entry:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.applied = False


class RequestLedger:
    """Runs each request id's update at most once (while the id is remembered).

    Args:
        capacity: How many finished request ids to keep; the oldest are
            forgotten first. Must be at least 1.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def run_once(self, request_id: str, update: Callable[[], None]) -> bool:
        """Run ``update`` unless ``request_id`` already ran; True when it ran now.

        An empty ``request_id`` (a client that sends none) always runs. If
        ``update`` raises, the id is forgotten so that a retry runs it.
        """
        if not request_id:
            update()
            return True
        while True:
            with self._lock:
                entry = self._entries.get(request_id)
                owner = entry is None
                if entry is None:
                    entry = self._entries[request_id] = _Entry()
                    self._evict()
            if owner:
                break
            entry.done.wait()
            if entry.applied:
                logger.info("duplicate request skipped request_id=%s", request_id)
                return False
            # The first attempt failed and was forgotten: this one runs it.
        try:
            update()
            entry.applied = True
        except BaseException:
            with self._lock:
                if self._entries.get(request_id) is entry:
                    del self._entries[request_id]
            raise
        finally:
            entry.done.set()
        return True

    def _evict(self) -> None:
        """Forget the oldest finished ids beyond the capacity (lock held)."""
        while len(self._entries) > self._capacity:
            oldest = next(iter(self._entries.values()))
            if not oldest.done.is_set():
                return  # still running: kept until a later insert
            self._entries.popitem(last=False)
