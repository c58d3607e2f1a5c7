"""The use case behind ``monolith worker``: config in, a trained worker out."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from monolith.app.distributed.worker import WorkerOptions, WorkerReport, run_worker
from monolith.app.training.inputs import features_of, training_source
from monolith.app.training.runtime import build_spec
from monolith.app.training.session import adapters
from monolith.domain.config import RunnerConfig
from monolith.domain.errors import ConfigError, UsageError
from monolith.domain.launcher_env import LauncherEnv, parse_launcher_env
from monolith.ports.collective import AllReduce

logger = logging.getLogger(__name__)


def sync_ranks(
    env: LauncherEnv, index: int | None, num_workers: int | None
) -> tuple[int, int]:
    """``(index, num_workers)`` of a sync rank: the launcher's rank and size.

    Explicit values must agree with a launcher's; without a launcher they
    are required.

    Raises:
        ConfigError: an explicit value contradicts the launcher's.
        UsageError: no launcher and no explicit values.
    """
    if env.launched:
        for given, (name, value) in (
            (index, ("rank", env.rank)),
            (num_workers, ("size", env.size)),
        ):
            if given is not None and given != value:
                raise ConfigError(
                    f"--{'index' if name == 'rank' else 'num-workers'} {given} "
                    f"contradicts the launcher's {name}={value} "
                    f"(from {env.sources[name]}); drop the flag or fix the launch"
                )
        logger.info(
            "sync rank from launcher rank=%d size=%d source=%s",
            env.rank,
            env.size,
            env.sources["rank"],
        )
        return env.rank, env.size
    if index is None or num_workers is None:
        raise UsageError(
            "sync mode needs --index and --num-workers, or a launcher "
            "(torchrun, mpirun, horovodrun) that sets the rank and size"
        )
    return index, num_workers


def open_allreduce(
    rank: int,
    size: int,
    init_method: str,
    timeout: float,
    environ: Mapping[str, str],
) -> AllReduce:
    """Join the gloo group of a sync job.

    Raises:
        UsageError: ``env://`` without MASTER_ADDR / MASTER_PORT set.
    """
    if init_method == "env://":
        missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if v not in environ]
        if missing:
            raise UsageError(
                f"sync mode with --init-method env:// needs {' and '.join(missing)} "
                "in the environment (torchrun sets them; with mpirun pass "
                "-x MASTER_ADDR=<rank 0 host> -x MASTER_PORT=<free port>), or "
                "pass --init-method tcp://HOST:PORT"
            )
    from monolith.adapters.collective.process_group import GlooAllReduce

    return GlooAllReduce(rank, size, init_method=init_method, timeout=timeout)


def worker_from_config(
    runner: RunnerConfig,
    options: WorkerOptions,
    *,
    epochs_set: bool = False,
    environ: Mapping[str, str] | None = None,
    task_options: Mapping[str, Any] | None = None,
) -> WorkerReport:
    """Train this worker of a multi-process job.

    Raises:
        UsageError: task, data or model_dir is missing.
    """
    env = os.environ if environ is None else environ
    if runner.data is None:
        raise UsageError("no training data given: pass --data PATTERN")
    if runner.task is None:
        raise UsageError("no task given: pass --task package.module.ClassName")
    fs, clock = adapters(runner)
    features = features_of(fs, runner.data)
    spec = build_spec(runner.task, features, task_options)
    epochs = None if runner.steps is not None and not epochs_set else runner.epochs
    source = training_source(
        fs,
        runner.data,
        features,
        batch_size=runner.batch_size,
        epochs=epochs,
        seed=runner.seed,
    )
    allreduce = None
    if options.mode == "sync":
        allreduce = open_allreduce(
            options.index,
            options.num_workers,
            options.init_method,
            options.collective_timeout,
            env,
        )
    from monolith.app.runner import discovery_guard

    try:
        with discovery_guard(runner) as discovery:
            if discovery is None:
                raise UsageError(
                    "monolith worker needs discovery: is_local must be false"
                )
            return run_worker(
                runner,
                options,
                discovery=discovery,
                fs=fs,
                clock=clock,
                spec=spec,
                features=features,
                batches=source(options.index, options.num_workers),
                allreduce=allreduce,
                task_options=dict(task_options or {}),
            )
    finally:
        if allreduce is not None:
            allreduce.close()


def launcher_env(environ: Mapping[str, str] | None = None) -> LauncherEnv:
    """The launcher's rank and size (decision 7)."""
    return parse_launcher_env(os.environ if environ is None else environ)
