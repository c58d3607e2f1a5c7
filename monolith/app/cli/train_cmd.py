"""``monolith train``: train a task on a data pattern into a model directory."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from monolith.app.cli.task_options import parse_task_options, task_option_flag
from monolith.app.cli.training_flags import training_flags, training_options
from monolith.app.config_loader import config_options, load_run_config
from monolith.domain.errors import UsageError

logger = logging.getLogger(__name__)


@click.command("train")
@training_options(model_dir_help="Checkpoints go here; an existing one resumes.")
@click.option("--num-ps", type=int, help="Parameter-store shards.")
@click.option("--num-workers", type=int, help="Worker threads.")
@click.option(
    "--realtime",
    is_flag=True,
    help="Push trained embedding rows to serving replicas while training.",
)
@click.option(
    "--serving",
    metavar="HOST:PORT[,...]",
    help="Serving replicas for --realtime (monolith serve addresses).",
)
@click.option(
    "--sync-interval",
    type=float,
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between real-time pushes.",
)
@task_option_flag
@config_options
def train_command(
    task: str | None,
    backend: str | None,
    data: str | None,
    model_dir: str | None,
    steps: int | None,
    batch_size: int | None,
    save_steps: int | None,
    max_to_keep: int | None,
    num_ps: int | None,
    num_workers: int | None,
    realtime: bool,
    serving: str | None,
    sync_interval: float,
    task_option_items: tuple[str, ...],
    config_file: Path | None,
    sets: tuple[str, ...],
) -> None:
    """Train TASK on DATA into MODEL_DIR, resuming from its newest checkpoint.

    --steps counts global steps, so rerunning the same command after a crash
    trains only the steps that are left. Without --steps, training runs
    `epochs` passes over the data.
    """
    from monolith.app.training.session import train_from_config

    run = load_run_config(
        config_file,
        sets,
        flags={
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
            "num_ps": num_ps,
            "num_workers": num_workers,
        },
    )
    runner = run.to_runner_config()
    if runner.data is None:
        raise UsageError("no training data given: pass --data PATTERN")
    realtime_options = None
    if realtime or serving is not None:
        from monolith.app.realtime import RealtimeOptions, parse_serving_addresses

        if not realtime or serving is None:
            raise UsageError("real-time training needs both --realtime and --serving")
        realtime_options = RealtimeOptions(
            tuple(parse_serving_addresses(serving)), sync_interval=sync_interval
        )
    report = train_from_config(
        runner,
        epochs_set="epochs" in run.user_overrides(),
        realtime=realtime_options,
        task_options=parse_task_options(task_option_items),
    )
    click.echo(
        f"trained step={report.outcome.last_step} "
        f"from_step={report.outcome.start_step} "
        f"examples={report.outcome.examples} model_dir={runner.model_dir}"
    )
    if report.evaluation is not None:
        click.echo(report.evaluation.line())
