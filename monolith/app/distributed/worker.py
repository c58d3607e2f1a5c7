"""``monolith worker``: one training worker of a multi-process job.

The worker finds every PS through discovery (waiting up to a timeout), reads
its shard of the data and trains against the remote PS. Worker 0 is the
chief: it hosts the coordinator (registered in discovery as ``chief.0``),
copies a checkpoint from ``restore_dir`` when the model directory has none
(decision 5, :mod:`monolith.app.restore_sync`), restores the newest
checkpoint into every PS shard and its dense state,
drives the save barrier, writes checkpoints covering every shard, and at the
end tells the PS processes to stop unless the job is real-time. The other
workers wait for the chief's restore and block at its barriers.

Two modes: ``async`` keeps the dense parameters on PS 0 (pull before each
step, push gradients after), ``sync`` keeps them on every rank and averages
the dense gradients with a gloo all-reduce (ranks from the launcher
environment, decision 7).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Literal

import attrs

from monolith.app.checkpoints import CheckpointManager
from monolith.app.distributed.async_loop import (
    LoopResult,
    run_async_chief,
    run_async_worker,
)
from monolith.app.distributed.cluster_wait import wait_for_roles
from monolith.app.distributed.connections import (
    CHIEF_ROLE,
    PS_ROLE,
    connect_chief,
    connect_ps,
    parameters_digest,
)
from monolith.app.distributed.saving import JobCheckpoints
from monolith.app.distributed.sync_loop import (
    AllReducedBackend,
    agree_on_start,
    run_sync,
)
from monolith.app.restore_sync import sync_restore
from monolith.app.training.hooks import (
    CheckpointHook,
    Hook,
    LoggingHook,
    NonFiniteLossGuard,
)
from monolith.app.training.runtime import backend_factory
from monolith.app.training.step import WorkerStep
from monolith.domain.batch import Batch
from monolith.domain.config import RunnerConfig
from monolith.domain.errors import UsageError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.model_spec import ModelSpec
from monolith.ports.clock import Clock
from monolith.ports.collective import AllReduce
from monolith.ports.compute import ComputeBackend
from monolith.ports.discovery import ServiceDiscovery
from monolith.ports.storage import FileSystem

if TYPE_CHECKING:
    from monolith.adapters.coordination.grpc_client import GrpcCoordinatorClient
    from monolith.adapters.coordination.grpc_server import CoordinatorServer
    from monolith.adapters.parameters.grpc_client import GrpcParameterStore

logger = logging.getLogger(__name__)

Mode = Literal["async", "sync"]


@attrs.frozen
class WorkerOptions:
    """Where this worker sits in the job and how it trains.

    Attributes:
        index: This worker's index; 0 is the chief.
        num_workers: Workers in the job.
        num_ps: Parameter servers in the job.
        mode: ``async`` (dense on the PS) or ``sync`` (dense all-reduced).
        host: Interface the chief's coordinator binds and registers.
        discovery_timeout: Seconds to wait for the PS (and the chief).
        init_method: How sync ranks meet (``env://`` under torchrun).
        collective_timeout: Seconds a sync collective waits for its peers.
        num_threads: Torch intra-op threads (None: torch's default).
    """

    index: int
    num_workers: int
    num_ps: int
    mode: Mode = "async"
    host: str = "127.0.0.1"
    discovery_timeout: float = 600.0
    init_method: str = "env://"
    collective_timeout: float = 300.0
    num_threads: int | None = None

    @property
    def is_chief(self) -> bool:
        return self.index == 0

    def check(self) -> None:
        """Raise UsageError on an impossible combination."""
        if self.num_ps < 1:
            raise UsageError(f"--num-ps must be >= 1 for a worker, got {self.num_ps}")
        if not 0 <= self.index < self.num_workers:
            raise UsageError(
                f"--index {self.index} is out of range: expected 0 <= index < "
                f"--num-workers {self.num_workers}"
            )


@attrs.frozen
class WorkerReport:
    """What this worker did."""

    index: int
    is_chief: bool
    mode: Mode
    restored_step: int
    loop: LoopResult


def run_worker(
    runner: RunnerConfig,
    options: WorkerOptions,
    *,
    discovery: ServiceDiscovery,
    fs: FileSystem,
    clock: Clock,
    spec: ModelSpec,
    features: FeatureSpec | None,
    batches: Iterator[Batch],
    task_options: dict[str, Any] | None = None,
    allreduce: AllReduce | None = None,
) -> WorkerReport:
    """Run this worker until the job's steps or its data end.

    Args:
        runner: The merged configuration (model_dir, steps, save cadence,
            deadlines, barrier limit, realtime mode).
        options: Index, counts and mode.
        discovery: Where the PS (and the chief) are registered.
        fs: The model directory's file system (shared with every PS).
        clock: Time for deadlines, barriers and row timestamps.
        spec: The model.
        features: The data's feature spec, recorded in checkpoints.
        batches: This worker's shard of the training data.
        task_options: Options the task was built with (recorded).
        allreduce: The sync group (sync mode only).

    Raises:
        DiscoveryTimeoutError: a PS (or the chief) never registered.
        ShardUnavailableError: a PS stopped answering within the RPC deadline.
        CoordinatorUnavailableError: the chief stopped answering.
        RestoreSyncError: the chief did not restore within chief_timeout_secs.
    """
    options.check()
    if runner.model_dir is None or runner.task is None:
        raise UsageError("a worker needs --task and --model-dir")
    if options.mode == "sync" and allreduce is None:
        raise UsageError("sync mode needs an all-reduce group")
    deadline = runner.max_rpc_deadline_millis / 1000.0
    sync_restore(
        fs,
        clock,
        is_chief=options.is_chief,
        model_dir=runner.model_dir,
        restore_dir=runner.restore_dir,
        restore_ckpt=runner.restore_ckpt,
        chief_timeout_secs=runner.chief_timeout_secs,
        poll_secs=0.5,
    )
    with ExitStack() as stack:
        coordinator: CoordinatorServer | None = None
        if options.is_chief and options.mode == "async":
            coordinator = _start_coordinator(runner, options, clock, discovery, stack)
        needed = {PS_ROLE: options.num_ps}
        if not options.is_chief and options.mode == "async":
            needed[CHIEF_ROLE] = 1
        found = wait_for_roles(
            discovery, needed, timeout=options.discovery_timeout, clock=clock
        )

        def connect() -> GrpcParameterStore:
            return connect_ps(
                discovery,
                options.num_ps,
                deadline=deadline,
                timeout=options.discovery_timeout,
                clock=clock,
            )

        store = connect()
        remote = [store]  # the current PS connection; recovery replaces it
        stack.callback(lambda: remote[0].close())

        backend: ComputeBackend = backend_factory(
            runner.backend, num_threads=options.num_threads
        )()
        backend.build(spec)
        if allreduce is not None:
            backend = AllReducedBackend(backend, allreduce)
        checkpoints = JobCheckpoints(
            CheckpointManager(
                fs, runner.model_dir, clock, max_to_keep=runner.max_to_keep
            ),
            spec,
            task=runner.task,
            features=features,
            task_options=task_options,
            runner=runner,
            num_workers=options.num_workers,
        )
        restored = 0
        if options.is_chief:
            store.create_tables(spec.tables)
            restored = checkpoints.restore(store, backend)
        step_runner = WorkerStep(
            spec, store, backend, clock, dense_on_store=options.mode == "async"
        )
        hooks: list[Hook] = [
            NonFiniteLossGuard(),
            LoggingHook(
                clock, every_steps=runner.log_step_count_steps, progress_bar=False
            ),
        ]
        classification = spec.loss == "bce"

        def save_now(step: int) -> int:
            current = step_runner.store
            if options.mode == "async":
                backend.load_parameters(current.pull_dense())
            checkpoints.save(step, current, backend)
            return step

        if options.mode == "sync":
            assert allreduce is not None
            start = agree_on_start(allreduce, restored)
            if not options.is_chief and start > 0:
                backend.load_state(checkpoints.manager.load_dense(start))
            backend.load_parameters(allreduce.broadcast(backend.parameters()))
            loop = run_sync(
                step_runner,
                allreduce,
                batches,
                hooks,
                save_now,
                clock=clock,
                start_step=start,
                max_steps=runner.steps,
                every_steps=runner.save_checkpoints_steps,
                every_secs=runner.save_checkpoints_secs,
                classification=classification,
            )
            logger.info(
                "sync dense parameters rank=%d digest=%s",
                options.index,
                parameters_digest(backend.parameters()),
            )
        elif coordinator is not None:
            store.init_dense(backend.parameters(), spec.dense_optimizer)
            coordinator.mark_restored(restored)

            def recover() -> int:
                chief = coordinator
                assert chief is not None
                remote[0].close()
                fresh = connect()
                fresh.create_tables(spec.tables)
                step = checkpoints.restore(fresh, backend)
                fresh.init_dense(backend.parameters(), spec.dense_optimizer)
                step_runner.store = remote[0] = fresh
                chief.rewind(step)
                return step

            def save_in_barrier(requested: int) -> int:
                return coordinator.run_barrier(
                    "save", lambda: save_now(coordinator.global_step)
                )

            hooks.append(
                CheckpointHook(
                    save_in_barrier,
                    clock,
                    every_steps=runner.save_checkpoints_steps,
                    every_secs=runner.save_checkpoints_secs,
                )
            )
            loop = run_async_chief(
                step_runner,
                coordinator,
                batches,
                hooks,
                start_step=restored,
                max_steps=runner.steps,
                workers_timeout=runner.chief_timeout_secs,
                classification=classification,
                recover=recover,
                max_recoveries=runner.max_retry_times,
            )
        else:
            from monolith.adapters.coordination.grpc_client import (
                GrpcCoordinatorClient,
            )

            chief_client = [
                GrpcCoordinatorClient(found[CHIEF_ROLE][0], deadline=deadline)
            ]
            stack.callback(lambda: chief_client[0].close())

            def rejoin() -> GrpcCoordinatorClient:
                chief_client[0].close()
                chief_client[0] = connect_chief(
                    discovery,
                    options.index,
                    deadline=deadline,
                    timeout=options.discovery_timeout,
                    clock=clock,
                )
                return chief_client[0]

            def reconnect() -> None:
                remote[0].close()
                step_runner.store = remote[0] = connect()

            loop = run_async_worker(
                step_runner,
                chief_client[0],
                options.index,
                batches,
                hooks,
                clock=clock,
                restore_timeout=runner.chief_timeout_secs,
                barrier_timeout=runner.chief_timeout_secs,
                classification=classification,
                reconnect=reconnect,
                rejoin=rejoin,
                max_recoveries=runner.max_retry_times,
            )
        if options.is_chief:
            if runner.enable_realtime_training:
                logger.info("ps left running reason=realtime training")
            else:
                remote[0].shutdown_servers()
        return WorkerReport(
            options.index, options.is_chief, options.mode, restored, loop
        )


def _start_coordinator(
    runner: RunnerConfig,
    options: WorkerOptions,
    clock: Clock,
    discovery: ServiceDiscovery,
    stack: ExitStack,
) -> CoordinatorServer:
    from monolith.adapters.coordination.grpc_server import CoordinatorServer

    coordinator = CoordinatorServer(
        options.num_workers,
        clock,
        max_steps=runner.steps,
        max_pending_secs=runner.max_pending_seconds_for_barrier,
    )
    address = coordinator.start(options.host, 0)
    stack.callback(coordinator.stop)
    discovery.register(CHIEF_ROLE, 0, address)
    stack.callback(discovery.deregister, CHIEF_ROLE, 0, address)
    return coordinator
