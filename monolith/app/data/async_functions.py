"""Running side work (e.g. a sparse gradient push) behind the training step.

Decision 12 and §12.3: a synchronous manager simply calls the function. An
asynchronous one queues the call (bounded, ``capacity`` calls ahead) for a
background thread, so the caller continues at once; the work therefore lags
the caller. The first failure of a queued call is raised to the caller on its
next ``add``, on ``drain`` or on ``close``. ``close`` drains every queued call
before it returns (the run's end).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from monolith.domain.errors import UsageError

logger = logging.getLogger(__name__)

_Call = tuple[Callable[..., Any], Sequence[Any], Mapping[str, Any]]


class AsyncFunctionMgr:
    """Calls functions now (sync) or on a background thread (async).

    Args:
        is_async: the default mode for :meth:`add_async_function`.
        capacity: calls that may wait in the queue before ``add`` blocks.
    """

    def __init__(self, is_async: bool = True, capacity: int = 1) -> None:
        if capacity < 1:
            raise UsageError(f"async queue capacity must be at least 1, got {capacity}")
        self.is_async = is_async
        self._queue: queue.Queue[_Call | None] = queue.Queue(maxsize=capacity)
        self._error: BaseException | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add_async_function(
        self,
        target: Callable[..., Any],
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        is_async: bool | None = None,
    ) -> Any:
        """Run ``target(*args, **kwargs)`` now or queue it.

        Returns:
            The result when synchronous; ``None`` when queued.

        Raises:
            BrokenPipeError: after :meth:`close`.
            Exception: the first failure of an earlier queued call.
        """
        if self._closed:
            raise BrokenPipeError("AsyncFunctionMgr is closed; no more calls accepted")
        self._raise_pending()
        call_args = tuple(args or ())
        call_kwargs = dict(kwargs or {})
        run_async = self.is_async if is_async is None else is_async
        if not run_async:
            return target(*call_args, **call_kwargs)
        self._ensure_thread()
        self._queue.put((target, call_args, call_kwargs))
        return None

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="async-functions", daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        while True:
            call = self._queue.get()
            try:
                if call is None:
                    return
                if self._error is None:
                    target, args, kwargs = call
                    target(*args, **kwargs)
            except BaseException as exc:  # re-raised to the caller
                logger.debug("async function failed error=%r", exc)
                self._error = exc
            finally:
                self._queue.task_done()

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def drain(self) -> None:
        """Wait until every queued call ran; raise the first failure."""
        if self._thread is not None:
            self._queue.join()
        self._raise_pending()

    def close(self) -> None:
        """Drain the queue, stop the thread and raise any pending failure."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.join()
            self._queue.put(None)
            self._thread.join(timeout=30)
        self._raise_pending()

    def __enter__(self) -> AsyncFunctionMgr:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
