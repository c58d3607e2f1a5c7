"""``monolith checkpoints list|verify DIR``: what a model directory holds."""

from __future__ import annotations

from pathlib import Path

import click

from monolith.app.checkpoints import CheckpointManager, CheckpointStatus
from monolith.app.config_loader import config_options, load_run_config
from monolith.domain.errors import CheckpointError, NoCheckpointError


def _manager(
    directory: str, config_file: Path | None, sets: tuple[str, ...]
) -> CheckpointManager:
    from monolith.app.training.session import adapters

    fs, clock = adapters(load_run_config(config_file, sets).to_runner_config())
    return CheckpointManager(fs, directory, clock)


def describe(status: CheckpointStatus, protected: set[int]) -> str:
    """One line about one checkpoint."""
    parts = [f"checkpoint-{status.step}", f"step={status.step}"]
    manifest = status.manifest
    if status.valid and manifest is not None:
        parts.append("valid=yes")
    else:
        parts.append("valid=no")
    if manifest is not None:
        size = sum(f.size for f in manifest.files)
        parts += [
            f"files={len(manifest.files)}",
            f"bytes={size}",
            f"task={manifest.task}",
            f"backend={manifest.backend}",
        ]
    if status.step in protected:
        parts.append("protected=yes")
    if status.problem is not None:
        parts.append(f"problem={status.problem!r}")
    return " ".join(parts)


def table_lines(status: CheckpointStatus) -> list[str]:
    """One line per table of a checkpoint: name, rows and dim."""
    if status.manifest is None:
        return []
    tables = status.manifest.extra.get("tables", [])
    return [f"  table={t['name']} rows={t['rows']} dim={t['dim']}" for t in tables]


@click.group("checkpoints")
def checkpoints_group() -> None:
    """List and verify the checkpoints of a model directory."""


@checkpoints_group.command("list")
@click.argument("directory")
@click.option("--tables", is_flag=True, help="Also print each table's rows and dim.")
@config_options
def list_command(
    directory: str, tables: bool, config_file: Path | None, sets: tuple[str, ...]
) -> None:
    """One line per checkpoint in DIRECTORY, oldest first (sizes checked)."""
    manager = _manager(directory, config_file, sets)
    statuses = manager.checkpoints()
    if not statuses:
        raise NoCheckpointError(
            f"no checkpoint in {directory!r}: expected checkpoint-<step>.json files"
        )
    protected = manager.protected_steps()
    for status in statuses:
        click.echo(describe(status, protected))
        if tables:
            for line in table_lines(status):
                click.echo(line)


@checkpoints_group.command("verify")
@click.argument("directory")
@config_options
def verify_command(
    directory: str, config_file: Path | None, sets: tuple[str, ...]
) -> None:
    """Check every payload file's size and sha256; exit 5 if any fails."""
    manager = _manager(directory, config_file, sets)
    statuses = manager.checkpoints(checksums=True)
    if not statuses:
        raise NoCheckpointError(
            f"no checkpoint in {directory!r}: expected checkpoint-<step>.json files"
        )
    bad = 0
    for status in statuses:
        if status.valid:
            click.echo(f"checkpoint-{status.step} ok")
        else:
            bad += 1
            click.echo(f"checkpoint-{status.step} invalid: {status.problem}")
    if bad:
        raise CheckpointError(
            f"{bad} of {len(statuses)} checkpoints in {directory!r} fail verification"
        )
