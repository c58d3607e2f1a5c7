"""``monolith evaluate``: metrics of a model directory's newest checkpoint."""

from __future__ import annotations

from pathlib import Path

import click

from monolith.app.config_loader import config_options, load_run_config


@click.command("evaluate")
@click.option("--model-dir", help="Model directory to evaluate (newest checkpoint).")
@click.option("--data", help="Evaluation input: paths or globs, comma-separated.")
@click.option("--batch-size", type=int, help="Examples per batch.")
@click.option(
    "--backend",
    type=click.Choice(["torch", "tf"]),
    help="Run the tower on this backend instead of the one it was trained on.",
)
@config_options
def evaluate_command(
    model_dir: str | None,
    data: str | None,
    batch_size: int | None,
    backend: str | None,
    config_file: Path | None,
    sets: tuple[str, ...],
) -> None:
    """Print auc=<x> logloss=<y> examples=<n> (mse=<x> for regression tasks)."""
    from monolith.app.training.session import evaluate_from_config

    run = load_run_config(
        config_file,
        sets,
        flags={"model_dir": model_dir, "data": data, "batch_size": batch_size},
    )
    result = evaluate_from_config(run.to_runner_config(), backend=backend)
    click.echo(result.line())
