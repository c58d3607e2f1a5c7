"""An in-process training cluster: PS shards plus worker threads (BEHAVIOUR.md §7).

The PS role is one :class:`~monolith.ports.parameters.ParameterStore` with
``num_ps`` shards (``fid mod num_ps`` routing). Each worker role is a thread
with its own compute backend, reading its shard of the data. Worker 0 is the
chief: it alone runs chief-only hooks (the checkpoint hook) and places the
save barrier (decision 9), which every other running worker blocks on at its
next step boundary.

With one worker the dense parameters stay in the backend. With several, they
live on the store (async PS training): each worker pulls them before a step
and pushes its dense gradients after.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterator, Sequence

import attrs

from monolith.app.training.hooks import Hook, RunInfo, StepEvent
from monolith.app.training.save_barrier import SaveBarrier
from monolith.app.training.step import FidTransform, WorkerStep
from monolith.domain.batch import Batch
from monolith.domain.errors import BarrierError, UsageError
from monolith.domain.model_spec import ModelSpec
from monolith.ports.clock import Clock
from monolith.ports.compute import ComputeBackend, StepResult
from monolith.ports.parameters import ParameterStore

logger = logging.getLogger(__name__)

BackendFactory = Callable[[], ComputeBackend]
"""Returns a new, unbuilt compute backend."""

StoreFactory = Callable[[int], ParameterStore]
"""Returns a new parameter store with the given number of shards."""

BatchSource = Callable[[int, int], Iterator[Batch]]
"""``(worker_index, num_workers) -> batches`` of that worker's data shard."""


class RoleKind(enum.Enum):
    PS = "ps"
    WORKER = "worker"


class RoleStatus(enum.Enum):
    STOPPED = "stopped"
    RUNNING = "running"


@attrs.frozen
class Role:
    """One role of the cluster and whether it runs."""

    kind: RoleKind
    index: int
    status: RoleStatus


@attrs.frozen
class TrainOutcome:
    """How a :meth:`LocalCluster.train` call ended."""

    start_step: int
    last_step: int
    examples: int
    steps_by_worker: tuple[int, ...]


class LocalCluster:
    """PS shards and worker threads in this process.

    Args:
        spec: The model every worker trains.
        num_ps: Parameter-store shards (>= 1).
        num_workers: Worker threads (>= 1); worker 0 is the chief.
        store_factory: Builds the store for the PS role.
        backend_factory: Builds one compute backend per worker.
        clock: Time for barriers and row timestamps.
        fid_transform: Optional fid rewrite applied by every worker.
        max_pending_secs: How long a save waits for workers to block.
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        num_ps: int,
        num_workers: int,
        store_factory: StoreFactory,
        backend_factory: BackendFactory,
        clock: Clock,
        fid_transform: FidTransform | None = None,
        max_pending_secs: float | None = 30.0,
    ) -> None:
        if num_ps < 1:
            raise UsageError(f"num_ps must be at least 1, got {num_ps}")
        if num_workers < 1:
            raise UsageError(f"num_workers must be at least 1, got {num_workers}")
        self.spec = spec
        self.num_ps = num_ps
        self.num_workers = num_workers
        self._store_factory = store_factory
        self._backend_factory = backend_factory
        self._clock = clock
        self._fid_transform = fid_transform
        self._store: ParameterStore | None = None
        self._backends: list[ComputeBackend] = []
        self._workers: list[WorkerStep] = []
        self._running_workers: set[int] = set()
        self._max_pending_secs = max_pending_secs
        self.barrier = SaveBarrier(num_workers, clock, max_pending_secs)
        self._lock = threading.Lock()
        self._hook_lock = threading.Lock()
        self._stopping = threading.Event()
        self._global_step = 0
        self._max_steps: int | None = None
        self._examples = 0
        self._errors: list[BaseException] = []

    # ------------------------------------------------------------------ roles

    @property
    def dense_on_store(self) -> bool:
        """Whether dense parameters live on the store (more than one worker)."""
        return self.num_workers > 1

    @property
    def store(self) -> ParameterStore:
        if self._store is None:
            raise UsageError("the cluster's PS role is not started: call start()")
        return self._store

    @property
    def chief_backend(self) -> ComputeBackend:
        if not self._backends:
            raise UsageError("the cluster's workers are not started: call start()")
        return self._backends[0]

    @property
    def chief_step(self) -> WorkerStep:
        """The chief's step runner (for evaluation and prediction)."""
        if not self._workers:
            raise UsageError("the cluster's workers are not started: call start()")
        return self._workers[0]

    @property
    def global_step(self) -> int:
        with self._lock:
            return self._global_step

    def roles(self) -> list[Role]:
        """Every role with its status: PS shards first, then workers."""
        ps_status = (
            RoleStatus.RUNNING if self._store is not None else RoleStatus.STOPPED
        )
        roles = [Role(RoleKind.PS, i, ps_status) for i in range(self.num_ps)]
        for i in range(self.num_workers):
            status = (
                RoleStatus.RUNNING if i in self._running_workers else RoleStatus.STOPPED
            )
            roles.append(Role(RoleKind.WORKER, i, status))
        return roles

    def start_ps(self) -> ParameterStore:
        """Start the PS role: the store and the model's tables (idempotent)."""
        if self._store is None:
            store = self._store_factory(self.num_ps)
            store.create_tables(self.spec.tables)
            self._store = store
            logger.info("cluster role started kind=ps shards=%d", self.num_ps)
        return self._store

    def start_workers(self) -> None:
        """Build every worker's backend; the workers are then running (idempotent)."""
        store = self.start_ps()
        if self._backends:
            return
        for _ in range(self.num_workers):
            backend = self._backend_factory()
            backend.build(self.spec)
            self._backends.append(backend)
            self._workers.append(
                WorkerStep(
                    self.spec,
                    store,
                    backend,
                    self._clock,
                    fid_transform=self._fid_transform,
                    dense_on_store=self.dense_on_store,
                )
            )
        for index in range(self.num_workers):
            self.start_worker(index)
        logger.info("cluster role started kind=worker count=%d", self.num_workers)

    def start(self) -> None:
        """Start the PS role, then the workers."""
        self.start_ps()
        self.start_workers()

    def start_worker(self, index: int) -> None:
        """Mark worker ``index`` running; it takes part in barriers."""
        self._check_worker(index)
        self._running_workers.add(index)
        if index > 0:
            self.barrier.join(index)

    def stop_worker(self, index: int) -> None:
        """Mark worker ``index`` stopped; barriers no longer wait for it."""
        self._check_worker(index)
        self._running_workers.discard(index)
        if index > 0:
            self.barrier.leave(index)

    def stop(self) -> None:
        """Stop every worker, then the PS role (closing the store)."""
        for index in list(self._running_workers):
            self.stop_worker(index)
        if self._store is not None:
            self._store.close()
            self._store = None
            logger.info("cluster role stopped kind=ps shards=%d", self.num_ps)

    def _check_worker(self, index: int) -> None:
        if not 0 <= index < self.num_workers:
            raise UsageError(
                f"worker index {index} is out of range: expected 0 <= index < "
                f"{self.num_workers}"
            )
        if len(self._workers) <= index:
            raise UsageError(
                f"worker {index} has no backend yet: call start_workers() first"
            )

    def enter_barrier(self, index: int) -> int | None:
        """Worker ``index`` (> 0) passes the save barrier, blocking while one is placed.

        Raises:
            BarrierError: the worker is not running, or is the chief.
        """
        if index == 0:
            raise BarrierError(
                "worker 0 is the chief: it places barriers and never blocks on one"
            )
        if index not in self._running_workers:
            raise BarrierError(
                f"worker {index} cannot enter the barrier: it is not running; "
                "start it first"
            )
        return self.barrier.pass_as_worker(index)

    def with_save_barrier(self, fn: Callable[[], int]) -> int:
        """Run ``fn`` (a save) on the chief's side of a ``save`` barrier."""
        return self.barrier.run_as_chief("save", fn)

    def sync_chief_dense(self) -> None:
        """In PS mode, copy the store's dense parameters into the chief's backend."""
        if self.dense_on_store:
            self.chief_backend.load_parameters(self.store.pull_dense())

    def install_dense(self) -> None:
        """In PS mode, put the chief's dense parameters on the store (first wins)."""
        if self.dense_on_store:
            self.store.init_dense(
                self.chief_backend.parameters(), self.spec.dense_optimizer
            )

    # ------------------------------------------------------------------ train

    def train(
        self,
        batches: BatchSource,
        *,
        start_step: int = 0,
        max_steps: int | None = None,
        hooks: Sequence[Hook] = (),
    ) -> TrainOutcome:
        """Run every worker until ``max_steps`` global steps or its data ends.

        Raises:
            Whatever a worker or hook raised first; the other workers stop at
            their next step boundary and no final hook save happens.
        """
        self.start()
        self.install_dense()
        # A fresh barrier per run: an aborted run leaves its barrier aborted.
        self.barrier = SaveBarrier(
            self.num_workers, self._clock, self._max_pending_secs
        )
        for index in range(self.num_workers):
            self.start_worker(index)
        self._global_step = start_step
        self._max_steps = max_steps
        self._examples = 0
        self._errors = []
        self._stopping.clear()
        run = RunInfo(
            start_step=start_step,
            max_steps=max_steps,
            classification=self.spec.loss == "bce",
        )
        for hook in hooks:
            hook.begin(run)
        counts = [0] * self.num_workers
        threads = [
            threading.Thread(
                target=self._worker_main,
                args=(index, batches, hooks, counts),
                name=f"monolith-worker-{index}",
                daemon=True,
            )
            for index in range(self.num_workers)
        ]
        if self.num_workers == 1:
            # One worker runs on the caller's thread: no hand-off, and
            # libraries with per-thread pools (OpenMP) keep their warm pool.
            self._worker_main(0, batches, hooks, counts)
        else:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        failed = bool(self._errors)
        self.sync_chief_dense()
        end_error: BaseException | None = None
        for hook in hooks:
            try:
                hook.end(self._global_step, failed=failed)
            except BaseException as exc:  # keep closing the other hooks
                end_error = end_error or exc
        if self._errors:
            raise self._errors[0]
        if end_error is not None:
            raise end_error
        return TrainOutcome(
            start_step=start_step,
            last_step=self._global_step,
            examples=self._examples,
            steps_by_worker=tuple(counts),
        )

    def _claim_step(self) -> int | None:
        with self._lock:
            if self._max_steps is not None and self._global_step >= self._max_steps:
                return None
            self._global_step += 1
            return self._global_step

    def _worker_main(
        self,
        index: int,
        batches: BatchSource,
        hooks: Sequence[Hook],
        counts: list[int],
    ) -> None:
        worker = self._workers[index]
        shared = [h for h in hooks if not h.chief_only]
        chief_hooks = [h for h in hooks if h.chief_only] if index == 0 else []

        def guard(step: int, result: StepResult) -> None:
            for hook in hooks:
                hook.after_compute(step, result)

        source: Iterator[Batch] | None = None
        try:
            source = batches(index, self.num_workers)
            while not self._stopping.is_set():
                if index > 0:
                    self.enter_barrier(index)
                    if self._stopping.is_set():
                        break
                batch = next(source, None)
                if batch is None:
                    break
                step = self._claim_step()
                if step is None:
                    break
                result = worker.run(batch, step, guard=guard)
                counts[index] += 1
                event = StepEvent(
                    step=step,
                    worker=index,
                    examples=batch.size,
                    loss=result.loss,
                    labels=batch.label,
                    predictions=result.predictions,
                )
                with self._hook_lock:
                    self._examples += batch.size
                    for hook in shared:
                        hook.after_step(event)
                if chief_hooks:
                    chief_event = attrs.evolve(event, step=self.global_step)
                    for hook in chief_hooks:
                        hook.after_step(chief_event)
        except BaseException as exc:
            with self._lock:
                self._errors.append(exc)
            self._stopping.set()
            self.barrier.abort()
            logger.error("worker failed index=%d error=%s", index, exc)
        finally:
            self.stop_worker(index)
            close = getattr(source, "close", None)
            if callable(close):
                close()
