"""``monolith worker``: one training worker of a multi-process job."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from monolith.app.cli.task_options import parse_task_options, task_option_flag
from monolith.app.cli.training_flags import training_flags, training_options
from monolith.app.config_loader import config_options, load_run_config
from monolith.domain.errors import UsageError

logger = logging.getLogger(__name__)


@click.command("worker")
@click.option("--index", type=int, help="Worker index; 0 is the chief.")
@click.option("--num-ps", type=int, help="Parameter servers in the job.")
@click.option("--num-workers", type=int, help="Workers in the job.")
@click.option(
    "--discovery",
    type=click.Choice(["zk", "consul", "file"]),
    help="Where the PS and the chief register.",
)
@click.option("--job-name", help="Job name; ZooKeeper path /monolith/<job-name>.")
@click.option("--zk-servers", help="ZooKeeper ensemble, host:port,host:port.")
@click.option("--discovery-dir", help="Shared directory for --discovery file.")
@training_options(model_dir_help="Checkpoints go here (storage every PS sees).")
@click.option(
    "--mode",
    type=click.Choice(["async", "sync"]),
    default="async",
    show_default=True,
    help="async: dense on the PS; sync: dense gradients all-reduced (gloo).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface the chief's coordinator binds and registers.",
)
@click.option(
    "--wait-secs",
    type=float,
    default=600.0,
    show_default=True,
    help="How long to wait for the PS and the chief in discovery.",
)
@click.option(
    "--init-method",
    default="env://",
    show_default=True,
    help="How sync ranks meet: env:// (torchrun) or tcp://HOST:PORT.",
)
@click.option(
    "--collective-timeout",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds a sync all-reduce waits for its peers.",
)
@click.option("--threads", type=int, help="Torch threads in this process.")
@task_option_flag
@config_options
def worker_command(
    index: int | None,
    num_ps: int | None,
    num_workers: int | None,
    discovery: str | None,
    job_name: str | None,
    zk_servers: str | None,
    discovery_dir: str | None,
    task: str | None,
    backend: str | None,
    data: str | None,
    model_dir: str | None,
    steps: int | None,
    batch_size: int | None,
    save_steps: int | None,
    max_to_keep: int | None,
    mode: str,
    host: str,
    wait_secs: float,
    init_method: str,
    collective_timeout: float,
    threads: int | None,
    task_option_items: tuple[str, ...],
    config_file: Path | None,
    sets: tuple[str, ...],
) -> None:
    """Train one worker against the PS found through discovery.

    Worker 0 is the chief: it restores the newest checkpoint of MODEL_DIR
    into every PS, drives the save barrier, saves checkpoints covering every
    PS shard and stops the PS at the end (unless enable_realtime_training).
    In --mode sync the rank and size come from torchrun / mpirun when they
    launch it.
    """
    from monolith.app.distributed.session import (
        launcher_env,
        sync_ranks,
        worker_from_config,
    )
    from monolith.app.distributed.worker import WorkerOptions

    if mode == "sync":
        index, num_workers = sync_ranks(launcher_env(), index, num_workers)
    run = load_run_config(
        config_file,
        sets,
        flags={
            "is_local": False,
            "server_type": "worker",
            "index": index,
            "num_ps": num_ps,
            "num_workers": num_workers,
            "discovery_type": discovery,
            "job_name": job_name,
            "zk_servers": tuple(zk_servers.split(",")) if zk_servers else None,
            "file_discovery_dir": discovery_dir,
            **training_flags(
                task=task,
                backend=backend,
                data=data,
                model_dir=model_dir,
                steps=steps,
                batch_size=batch_size,
                save_steps=save_steps,
                max_to_keep=max_to_keep,
            ),
        },
    )
    runner = run.to_runner_config()
    if runner.data is None:
        raise UsageError("no training data given: pass --data PATTERN")
    options = WorkerOptions(
        index=runner.index,
        num_workers=runner.num_workers,
        num_ps=runner.num_ps,
        mode="sync" if mode == "sync" else "async",
        host=host,
        discovery_timeout=wait_secs,
        init_method=init_method,
        collective_timeout=collective_timeout,
        num_threads=threads,
    )
    task_options = parse_task_options(task_option_items)
    report = worker_from_config(
        runner,
        options,
        epochs_set="epochs" in run.user_overrides(),
        task_options=task_options,
    )
    click.echo(
        f"worker done index={report.index} chief={str(report.is_chief).lower()} "
        f"mode={report.mode} steps={report.loop.steps} "
        f"examples={report.loop.examples} global_step={report.loop.last_step} "
        f"restored_step={report.restored_step}"
    )
