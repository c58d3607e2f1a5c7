"""The async chief/worker loops and the sync-dense loop, against numpy fakes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import numpy as np
import pytest

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.clock.system import SystemClock
from monolith.app.distributed.async_loop import (
    run_async_chief,
    run_async_worker,
    wait_for_restore,
)
from monolith.app.distributed.sync_loop import AllReducedBackend, run_sync
from monolith.app.training.hooks import CheckpointHook
from monolith.app.training.step import WorkerStep
from monolith.domain.coordination import Coordination, CoordView
from monolith.domain.errors import (
    BarrierError,
    CoordinatorUnavailableError,
    DiscoveryTimeoutError,
    RestoreSyncError,
)
from tests.training_fakes import FakeBackend, FakeStore, planted_batches, tiny_spec

pytestmark = pytest.mark.unit


class Hub:
    """The chief's coordinator in memory: both sides of the coordination port."""

    def __init__(self, num_workers: int, max_steps: int | None) -> None:
        self.state = Coordination.new(num_workers, max_steps=max_steps).mark_restored(0)
        self.cond = threading.Condition()
        self.events: list[str] = []

    def _apply(
        self, change: Callable[[Coordination], tuple[Coordination, CoordView]]
    ) -> CoordView:
        with self.cond:
            self.state, view = change(self.state)
            self.cond.notify_all()
            return view

    def join(self, index: int) -> CoordView:
        return self._apply(lambda s: (s.join(index, 0.0), s.view()))

    def leave(self, index: int) -> CoordView:
        return self._apply(lambda s: (s.leave(index), s.view()))

    def claim(self, index: int) -> CoordView:
        return self._apply(lambda s: s.claim(index, 0.0))

    def block(self, index: int, epoch: int) -> CoordView:
        self.events.append(f"block {index}")
        return self._apply(lambda s: s.block(index, epoch, 0.0))

    def status(self, index: int, epoch: int = 0) -> CoordView:
        return self._apply(lambda s: s.status(index, epoch, 0.0))

    def close(self) -> None:
        pass

    def run_barrier(self, action: str, fn: Callable[[], int]) -> int:
        with self.cond:
            self.state = self.state.place(action, time.monotonic(), 5.0)
            while not self.state.decide(time.monotonic()).proceed:
                self.cond.wait(0.01)
        try:
            self.events.append("save")
            return fn()
        finally:
            with self.cond:
                self.state = self.state.remove()
                self.cond.notify_all()

    def wait_workers_gone(self, timeout: float) -> tuple[int, ...]:
        with self.cond:
            self.cond.wait_for(lambda: not self.state.running(), timeout)
            return self.state.running()

    def finish(self) -> None:
        with self.cond:
            self.state = self.state.finish()

    @property
    def global_step(self) -> int:
        return self.state.global_step


def step_runner(store: FakeStore, dense_on_store: bool = True) -> WorkerStep:
    spec = tiny_spec()
    store.create_tables(spec.tables)
    backend = FakeBackend()
    backend.build(spec)
    if dense_on_store:
        store.init_dense(backend.parameters(), spec.dense_optimizer)
    return WorkerStep(
        spec, store, backend, SystemClock(), dense_on_store=dense_on_store
    )


def test_the_chief_alone_trains_to_max_steps_and_saves_on_cadence() -> None:
    hub = Hub(1, max_steps=12)
    saved: list[int] = []
    hook = CheckpointHook(
        lambda _: hub.run_barrier(
            "save", lambda: saved.append(hub.global_step) or hub.global_step
        ),
        SystemClock(),
        every_steps=5,
    )

    result = run_async_chief(
        step_runner(FakeStore()), hub, iter(planted_batches(20)), [hook],
        start_step=0, max_steps=12, workers_timeout=1.0,
    )  # fmt: skip

    assert (result.last_step, result.steps) == (12, 12)
    assert saved == [5, 10, 12]
    assert hub.state.finished


def test_chief_and_worker_share_the_global_steps_and_the_last_save_sees_all() -> None:
    hub = Hub(2, max_steps=30)
    store = FakeStore()
    chief_runner, worker_runner = step_runner(store), step_runner(store)
    saved: list[int] = []
    hook = CheckpointHook(
        lambda _: hub.run_barrier(
            "save", lambda: saved.append(hub.global_step) or hub.global_step
        ),
        SystemClock(),
        every_steps=10,
    )
    hub.join(1)
    outcome: dict[str, object] = {}

    def worker() -> None:
        outcome["worker"] = run_async_worker(
            worker_runner, hub, 1, iter(planted_batches(40, seed=1)), [],
            clock=SystemClock(), restore_timeout=5.0, barrier_timeout=5.0,
        )  # fmt: skip

    thread = threading.Thread(target=worker)
    thread.start()
    chief = run_async_chief(
        chief_runner, hub, iter(planted_batches(40)), [hook],
        start_step=0, max_steps=30, workers_timeout=10.0,
    )  # fmt: skip
    thread.join(10)

    other = outcome["worker"]
    assert chief.last_step == 30
    assert chief.steps + other.steps == 30  # type: ignore[attr-defined]
    assert saved[-1] == 30
    assert hub.state.running() == ()


def test_a_worker_gives_up_waiting_for_a_chief_that_never_restores() -> None:
    hub = Hub(2, max_steps=None)
    hub.state = Coordination.new(2)  # not restored
    hub.join(1)

    with pytest.raises(RestoreSyncError, match=r"worker 1 waited 3\.0s"):
        wait_for_restore(hub, 1, timeout=3.0, clock=ManualClock())


class LostChief(Hub):
    """A chief that dies after ``alive`` claims; its client then only fails."""

    def __init__(self, alive: int) -> None:
        super().__init__(2, max_steps=None)
        self.alive = alive
        self.closed = False

    def claim(self, index: int) -> CoordView:
        if self.alive == 0:
            raise CoordinatorUnavailableError("chief.0 at 127.0.0.1:1 is unavailable")
        self.alive -= 1
        return super().claim(index)

    def leave(self, index: int) -> CoordView:
        if self.closed:
            raise BarrierError("coordinator client is closed")
        return super().leave(index)


def test_a_worker_that_finds_no_new_chief_fails_with_the_reason_it_found_none() -> None:
    chief = LostChief(alive=3)

    def rejoin() -> Hub:
        chief.closed = True  # the old client is closed before looking again
        raise DiscoveryTimeoutError("no chief.0 registered within 60.0s")

    with pytest.raises(DiscoveryTimeoutError, match="no chief.0 registered"):
        run_async_worker(
            step_runner(FakeStore()),
            chief,
            1,
            iter(planted_batches(10)),
            [],
            clock=SystemClock(),
            restore_timeout=1.0,
            barrier_timeout=1.0,
            rejoin=rejoin,
            max_recoveries=1,
        )


class OneRank:
    """A one-rank all-reduce: means and sums are the inputs."""

    rank = 0
    size = 1

    def __init__(self) -> None:
        self.means = 0

    def mean(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.means += 1
        return {k: np.asarray(v) for k, v in arrays.items()}

    def sum(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)

    def broadcast(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(arrays)

    def barrier(self) -> None:
        pass

    def close(self) -> None:
        pass


def sync_runner(group: OneRank) -> WorkerStep:
    spec = tiny_spec()
    store = FakeStore()
    store.create_tables(spec.tables)
    inner = FakeBackend()
    inner.build(spec)
    backend = AllReducedBackend(inner, group)
    return WorkerStep(spec, store, backend, SystemClock())


def test_sync_steps_all_reduce_dense_gradients_and_save_on_cadence() -> None:
    group = OneRank()
    saved: list[int] = []

    result = run_sync(
        sync_runner(group), group, iter(planted_batches(20)), [],
        lambda step: saved.append(step) or step, clock=SystemClock(),
        start_step=0, max_steps=10, every_steps=4, every_secs=None,
    )  # fmt: skip

    assert (result.last_step, result.steps) == (10, 10)
    assert saved == [4, 8, 10]
    assert group.means == 10


def test_sync_training_stops_when_the_data_ends_and_saves_once_more() -> None:
    group = OneRank()
    saved: list[int] = []

    result = run_sync(
        sync_runner(group), group, iter(planted_batches(6)), [],
        lambda step: saved.append(step) or step, clock=SystemClock(),
        start_step=100, max_steps=None, every_steps=None, every_secs=None,
    )  # fmt: skip

    assert (result.start_step, result.last_step) == (100, 106)
    assert saved == [106]
