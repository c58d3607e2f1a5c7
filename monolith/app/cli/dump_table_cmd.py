"""``monolith dump-table``: one table of a checkpoint as EntryDump TFRecords."""

from __future__ import annotations

from pathlib import Path

import click

from monolith.app.config_loader import config_options, load_run_config


@click.command("dump-table")
@click.option(
    "--checkpoint",
    required=True,
    help="A checkpoint-<step>.json manifest, or a model dir (newest checkpoint).",
)
@click.option("--table", required=True, help="Table name.")
@click.option("--out", required=True, help="TFRecord file to write.")
@config_options
def dump_table_command(
    checkpoint: str,
    table: str,
    out: str,
    config_file: Path | None,
    sets: tuple[str, ...],
) -> None:
    """Write every row of TABLE as EntryDump{id, num=[bias]+embedding, opt, ts}."""
    from monolith.app.table_dump import dump_table
    from monolith.app.training.session import adapters

    fs, _ = adapters(load_run_config(config_file, sets).to_runner_config())
    rows = dump_table(fs, checkpoint, table, out)
    click.echo(f"dumped table={table} rows={rows} path={out}")
