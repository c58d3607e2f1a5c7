"""The local cluster: roles, worker threads, save barriers and the worker step."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.clock.system import SystemClock
from monolith.app.training.hooks import CheckpointHook, Hook, NonFiniteLossGuard
from monolith.app.training.local_cluster import LocalCluster, RoleKind, RoleStatus
from monolith.app.training.step import WorkerStep, hashed_buckets, prepare_batch
from monolith.domain.barrier import EpochStatus
from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.errors import BarrierError, NonFiniteLossError, UsageError
from tests.training_fakes import FakeBackend, FakeStore, planted_batches, tiny_spec

pytestmark = pytest.mark.unit


def _cluster(num_ps=2, num_workers=2, nan_at_call=None, stores=None) -> LocalCluster:
    def store_factory(shards: int) -> FakeStore:
        store = FakeStore(shards)
        if stores is not None:
            stores.append(store)
        return store

    return LocalCluster(
        tiny_spec(),
        num_ps=num_ps,
        num_workers=num_workers,
        store_factory=store_factory,
        backend_factory=lambda: FakeBackend(nan_at_call=nan_at_call),
        clock=SystemClock(),
        max_pending_secs=None,
    )


def _source(batches):
    def source(index: int, count: int):
        return iter(batches[index::count])

    return source


def test_prepare_batch_looks_up_unique_fids_and_keeps_an_inverse_index():
    store = FakeStore()
    store.create_tables(tiny_spec().tables)
    batch = Batch(
        sparse={
            "a": RaggedFids.from_lists([[5, 7], [5], []]),
            "b": RaggedFids.from_lists([[1], [1], [2]]),
        },
        dense=np.zeros((3, 1), np.float32),
        label=np.zeros(3, np.float32),
    )

    prepared = prepare_batch(batch, tiny_spec(), store)

    slot = prepared.inputs.slots["a"]
    assert prepared.unique_fids["a"].tolist() == [5, 7]
    assert slot.index.tolist() == [0, 1, 0]
    assert slot.row_splits.tolist() == [0, 2, 3, 3]
    assert slot.rows.shape == (2, 1)


def test_a_missing_slot_is_an_error_naming_it_and_the_slots_present():
    batch = Batch(
        sparse={"a": RaggedFids.from_lists([[1]])},
        dense=np.zeros((1, 1), np.float32),
        label=np.zeros(1, np.float32),
    )

    with pytest.raises(UsageError, match="'b' is not in the batch.*slots: a"):
        prepare_batch(batch, tiny_spec(), FakeStore())


def test_slots_sharing_a_table_update_it_in_one_call():
    spec = tiny_spec(shared_table=True)
    store = FakeStore()
    store.create_tables(spec.tables)
    backend = FakeBackend()
    backend.build(spec)
    step = WorkerStep(spec, store, backend, ManualClock())

    step.run(planted_batches(1, 8)[0], step=1)

    assert [table for table, _, _ in store.applied] == ["shared"]


def test_slots_sharing_a_table_are_looked_up_in_one_call_each_with_its_own_rows():
    spec = tiny_spec(shared_table=True)
    store = FakeStore()
    store.create_tables(spec.tables)
    store.rows["shared"].update(
        {fid: np.array([float(fid)], np.float32) for fid in (1, 2, 5, 7)}
    )
    batch = Batch(
        sparse={
            "a": RaggedFids.from_lists([[7, 5], [5]]),
            "b": RaggedFids.from_lists([[2], [1, 2]]),
        },
        dense=np.zeros((2, 1), np.float32),
        label=np.zeros(2, np.float32),
    )

    prepared = prepare_batch(batch, spec, store)

    assert [(table, fids.tolist()) for table, fids in store.looked_up] == [
        ("shared", [5, 7, 1, 2])
    ]
    a, b = prepared.inputs.slots["a"], prepared.inputs.slots["b"]
    assert a.rows[:, 0].tolist() == [5.0, 7.0] and a.index.tolist() == [1, 0, 0]
    assert b.rows[:, 0].tolist() == [1.0, 2.0] and b.index.tolist() == [1, 0, 1]


def test_hashed_buckets_fold_fids_into_shared_rows():
    spec = tiny_spec()
    store = FakeStore()
    store.create_tables(spec.tables)
    backend = FakeBackend()
    backend.build(spec)
    step = WorkerStep(
        spec, store, backend, ManualClock(), fid_transform=hashed_buckets(4)
    )

    step.run(planted_batches(1, 64, vocab=1000)[0], step=1)

    assert set(store.rows["t_a"]) <= {0, 1, 2, 3}


def test_the_cluster_reports_ps_and_worker_roles_as_they_start_and_stop():
    cluster = _cluster(num_ps=2, num_workers=2)

    assert {r.status for r in cluster.roles()} == {RoleStatus.STOPPED}
    cluster.start()
    running = [
        (r.kind, r.index) for r in cluster.roles() if r.status is RoleStatus.RUNNING
    ]
    cluster.stop()

    assert running == [
        (RoleKind.PS, 0),
        (RoleKind.PS, 1),
        (RoleKind.WORKER, 0),
        (RoleKind.WORKER, 1),
    ]
    assert {r.status for r in cluster.roles()} == {RoleStatus.STOPPED}


def test_two_workers_on_two_ps_share_the_steps_and_learn_the_planted_signal():
    stores: list[FakeStore] = []
    cluster = _cluster(num_ps=2, num_workers=2, stores=stores)
    batches = planted_batches(200, 64)

    outcome = cluster.train(_source(batches), max_steps=160)

    assert outcome.last_step == 160
    assert sum(outcome.steps_by_worker) == 160
    assert min(outcome.steps_by_worker) > 0
    assert stores[0].num_shards == 2
    probe = planted_batches(1, 512, seed=99)[0]
    scores = cluster.chief_step.predict(probe)
    accuracy = float(np.mean((scores > 0.5) == (probe.label > 0.5)))
    assert accuracy > 0.8


def test_training_stops_when_every_worker_runs_out_of_data():
    cluster = _cluster(num_workers=2)

    outcome = cluster.train(_source(planted_batches(7, 8)), max_steps=None)

    assert outcome.last_step == 7
    assert outcome.examples == 56


class _SaveRecorder(Hook):
    """Records, at each save, the barrier epoch and which workers were blocked."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.seen: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = []

    def save(self, requested: int) -> int:
        def action() -> int:
            state = self.cluster.barrier.state
            running = tuple(sorted(state.running))
            self.seen.append((state.epoch, state.blocked_indices(), running))
            return self.cluster.global_step

        return self.cluster.with_save_barrier(action)


def test_saves_run_behind_a_barrier_that_releases_epoch_after_epoch(monkeypatch):
    compute = FakeBackend.compute_gradients

    def like_a_real_backend(self, inputs, labels):  # type: ignore[no-untyped-def]
        threading.Event().wait(0.001)  # drops the GIL, as torch and TF do
        return compute(self, inputs, labels)

    # Without it, one GIL-bound worker thread can run most steps and the chief
    # sees too few of them to save several times.
    monkeypatch.setattr(FakeBackend, "compute_gradients", like_a_real_backend)
    cluster = _cluster(num_workers=3)
    recorder = _SaveRecorder(cluster)
    hook = CheckpointHook(recorder.save, SystemClock(), every_steps=10)

    cluster.train(_source(planted_batches(90, 8)), max_steps=60, hooks=[hook])

    epochs = [epoch for epoch, _, _ in recorder.seen]
    assert epochs == list(range(1, len(epochs) + 1))
    assert len(epochs) >= 3
    state = cluster.barrier.state
    assert all(state.status(e) is EpochStatus.RELEASED for e in epochs)
    # Each save ran only once every running worker was blocked.
    for _, blocked, running in recorder.seen:
        assert blocked == running
    assert any(blocked == (1, 2) for _, blocked, _ in recorder.seen)
    assert hook.saved_steps[-1] == 60


def test_a_worker_that_is_not_running_cannot_enter_a_barrier():
    cluster = _cluster(num_workers=2)
    cluster.start()
    cluster.stop_worker(1)

    with pytest.raises(BarrierError, match="worker 1 cannot enter the barrier"):
        cluster.enter_barrier(1)
    with pytest.raises(BarrierError, match="chief"):
        cluster.enter_barrier(0)


def test_a_non_finite_loss_stops_every_worker_and_changes_nothing():
    stores: list[FakeStore] = []
    cluster = _cluster(num_workers=2, nan_at_call=3, stores=stores)

    with pytest.raises(NonFiniteLossError, match="at step"):
        cluster.train(
            _source(planted_batches(100, 8)),
            max_steps=100,
            hooks=[NonFiniteLossGuard()],
        )

    # Each worker applied its first two steps only: the third raised first.
    assert len(stores[0].applied) <= 2 * 2 * len(tiny_spec().tables)


def test_a_blocked_worker_waits_until_the_chief_releases_the_barrier():
    cluster = _cluster(num_workers=2)
    cluster.start()
    released = threading.Event()
    entered: list[int | None] = []
    started = threading.Event()

    def chief_action() -> int:
        started.set()
        assert released.wait(5)
        return 0

    chief = threading.Thread(target=lambda: cluster.with_save_barrier(chief_action))
    worker = threading.Thread(target=lambda: entered.append(cluster.enter_barrier(1)))
    chief.start()
    for _ in range(500):
        if cluster.barrier.state.placed:
            break
        threading.Event().wait(0.01)
    worker.start()
    assert started.wait(5)
    assert entered == []

    released.set()
    chief.join(5)
    worker.join(5)

    assert entered == [1]
    assert cluster.barrier.state.status(1) is EpochStatus.RELEASED
    cluster.stop()
