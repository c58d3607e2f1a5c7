from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from monolith.app.data.async_functions import AsyncFunctionMgr
from monolith.app.data.prefetch import PrefetchQueue, prefetch
from monolith.domain.errors import UsageError

pytestmark = pytest.mark.unit


def test_capacity_zero_returns_the_input_unchanged() -> None:
    source = [1, 2, 3]

    assert prefetch(source, 0) is source


def test_items_arrive_in_order_and_unmutated() -> None:
    items = [{"a": 1.0, "b": "abc", "c": None, "d": [1, 2]}, ("x", True, 3)]
    snapshot = repr(items)

    got = list(prefetch(items, 2))

    assert got == items
    assert got[0] is items[0]
    assert repr(items) == snapshot


def test_the_producer_runs_at_most_capacity_items_ahead() -> None:
    produced: list[int] = []
    gate = threading.Event()

    def source() -> Iterator[int]:
        for i in range(10):
            produced.append(i)
            yield i

    queue = PrefetchQueue(source(), capacity=3)
    first = next(queue)
    gate.wait(0.3)

    assert first == 0
    assert len(produced) <= 1 + 3 + 1  # consumed, queued, one blocked in put
    assert list(queue) == list(range(1, 10))


def test_a_producer_exception_reaches_the_consumer_in_place() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("reader broke")

    queue = PrefetchQueue(source(), capacity=4)

    assert next(queue) == 1
    assert next(queue) == 2
    with pytest.raises(RuntimeError, match="reader broke"):
        next(queue)
    with pytest.raises(StopIteration):
        next(queue)


def test_close_stops_an_endless_producer() -> None:
    def endless() -> Iterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    with PrefetchQueue(endless(), capacity=2, name="endless") as queue:
        assert next(queue) == 0

    assert not any(t.name == "endless" and t.is_alive() for t in threading.enumerate())


def test_a_negative_capacity_is_refused() -> None:
    with pytest.raises(UsageError):
        PrefetchQueue([], capacity=-1)


def test_sync_manager_calls_immediately_and_returns_the_result() -> None:
    mgr = AsyncFunctionMgr(is_async=False)

    assert mgr.add_async_function(lambda x, y: x + y, args=(1, 2)) == 3


def test_async_calls_run_in_order_and_close_drains_them() -> None:
    seen: list[int] = []
    mgr = AsyncFunctionMgr(is_async=True, capacity=1)

    for i in range(20):
        assert mgr.add_async_function(seen.append, args=(i,)) is None
    mgr.close()

    assert seen == list(range(20))


def test_an_async_call_without_arguments_runs() -> None:
    count = []
    with AsyncFunctionMgr() as mgr:
        mgr.add_async_function(lambda: count.append(1))
        mgr.add_async_function(lambda: count.append(1))

    assert len(count) == 2


def test_an_async_failure_is_raised_to_the_caller() -> None:
    def boom() -> None:
        raise ValueError("push failed")

    mgr = AsyncFunctionMgr()
    mgr.add_async_function(boom)

    with pytest.raises(ValueError, match="push failed"):
        mgr.drain()
    mgr.close()


def test_adding_after_close_is_a_broken_pipe() -> None:
    mgr = AsyncFunctionMgr()
    mgr.close()

    with pytest.raises(BrokenPipeError):
        mgr.add_async_function(print)
