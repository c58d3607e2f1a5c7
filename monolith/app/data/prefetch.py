"""A bounded prefetch queue: a background thread runs ahead of the consumer.

Decision 12: capacity 0 returns the input unchanged; otherwise items are
handed over as they are (the caller's structures are never copied or
mutated, and leaves such as str, None, int, float and bool pass through). An
exception in the producer is raised in the consumer at the position it
happened; ``close()`` (or leaving the ``with`` block, or finishing the
iteration) stops the thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from monolith.domain.errors import UsageError

logger = logging.getLogger(__name__)

T = TypeVar("T")

_POLL_SECONDS = 0.05


class _End:
    pass


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = _End()


class PrefetchQueue(Generic[T]):
    """Iterates over ``source`` in a background thread, ``capacity`` items ahead.

    Args:
        source: any iterable; it is consumed only by the background thread.
        capacity: how many items may wait in the queue (at least 1).
        name: the thread's name.
    """

    def __init__(
        self, source: Iterable[T], capacity: int, name: str = "prefetch"
    ) -> None:
        if capacity < 1:
            raise UsageError(f"prefetch capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._queue: queue.Queue[T | _End | _Failure] = queue.Queue(maxsize=capacity)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=self._produce, args=(iter(source),), name=name, daemon=True
        )
        self._thread.start()

    def _put(self, item: T | _End | _Failure) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, source: Iterator[T]) -> None:
        try:
            for item in source:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, re-raised there
            self._put(_Failure(exc))
            return
        finally:
            close = getattr(source, "close", None)
            if self._stop.is_set() and callable(close):
                close()
        self._put(_END)

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if isinstance(item, _End):
            self._finish()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finish()
            raise item.exc
        return item

    def qsize(self) -> int:
        """Items waiting now."""
        return self._queue.qsize()

    def _finish(self) -> None:
        self._done = True
        self._stop.set()
        self._thread.join(timeout=10)

    def close(self) -> None:
        """Stop the producer thread and drop whatever is queued."""
        if self._done:
            return
        self._done = True
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            logger.warning("prefetch thread did not stop name=%s", self._thread.name)

    def __enter__(self) -> PrefetchQueue[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prefetch(source: Iterable[T], capacity: int) -> Iterable[T]:
    """``source`` itself when ``capacity`` is 0, else a :class:`PrefetchQueue`."""
    if capacity == 0:
        return source
    return PrefetchQueue(source, capacity)
