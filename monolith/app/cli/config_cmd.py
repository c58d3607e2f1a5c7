"""``monolith config show`` and ``monolith config validate``."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import click

from monolith.app.config_loader import config_options, load_run_config, read_config_file
from monolith.domain.config import RunConfig, RunnerConfig
from monolith.domain.config_fields import field_specs
from monolith.domain.config_merge import merge_run_config

logger = logging.getLogger(__name__)


@click.group("config")
def config_group() -> None:
    """Inspect and check the merged configuration."""


@config_group.command("show")
@config_options
def show(config_file: Path | None, sets: tuple[str, ...]) -> None:
    """Print every field, its value and the layer it came from.

    Layers, lowest first: default, file (--config), env (MONOLITH_<FIELD>),
    cli (--set), code. The rewrites the runtime applies are listed after the
    table.
    """
    run = load_run_config(config_file, sets)
    runner = run.to_runner_config()
    for line in render_table(run, runner):
        click.echo(line)


@config_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def validate(file: Path) -> None:
    """Check that FILE is a valid TOML config on its own (ignores the env)."""
    run = merge_run_config(file=read_config_file(file), file_path=str(file))
    run.to_runner_config()
    click.echo(f"ok: {file}")


def render_table(run: RunConfig, runner: RunnerConfig) -> Sequence[str]:
    """The lines of ``config show``: an aligned table, then the rewrites."""
    rows = [("field", "value", "source")]
    rows += [
        (spec.name, display(getattr(run, spec.name)), str(run.source_of(spec.name)))
        for spec in field_specs(RunConfig)
    ]
    name_width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    lines = [
        f"{name:<{name_width}}  {value:<{value_width}}  {source}".rstrip()
        for name, value, source in rows
    ]
    if runner.rewrites:
        lines.append("")
        lines.append("runner rewrites:")
        lines += [
            f"  {r.field}: {display(r.before)} -> {display(r.after)} ({r.reason})"
            for r in runner.rewrites
        ]
    return lines


def display(value: object) -> str:
    """A value as TOML would spell it; ``none`` for an unset optional."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(json.dumps(item) for item in value) + "]"
    return str(value)
