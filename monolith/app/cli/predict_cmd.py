"""``monolith predict``: scores of every input example, one per line.

Offline mode loads the newest checkpoint of ``--model-dir`` and runs the
model in this process. Each mode is one function below; the command only
picks the mode and writes the scores.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import numpy.typing as npt

from monolith.app.config_loader import config_options, load_run_config
from monolith.domain.config import RunnerConfig


def predict_offline(runner: RunnerConfig) -> npt.NDArray[np.float32]:
    """Scores computed in this process from the newest checkpoint."""
    from monolith.app.training.session import predict_from_config

    return predict_from_config(runner)


def write_scores(scores: npt.NDArray[np.float32], out: Path | None) -> None:
    """Scores one per line, to ``out`` or to stdout."""
    lines = "".join(f"{float(s):.6f}\n" for s in np.asarray(scores).reshape(-1))
    if out is None:
        click.echo(lines, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(lines)
    click.echo(f"wrote predictions={len(scores)} path={out}", err=True)


@click.command("predict")
@click.option("--model-dir", help="Model directory (newest checkpoint).")
@click.option("--data", help="Input: paths or globs, comma-separated.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write scores here, one per line (default: stdout).",
)
@click.option("--batch-size", type=int, help="Examples per batch.")
@click.option(
    "--server",
    metavar="HOST:PORT",
    help="Score on a running monolith serve instead of in this process.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Score at most N examples.")
@config_options
def predict_command(
    model_dir: str | None,
    data: str | None,
    out: Path | None,
    batch_size: int | None,
    server: str | None,
    limit: int | None,
    config_file: Path | None,
    sets: tuple[str, ...],
) -> None:
    """Score every example of DATA with the model in MODEL_DIR.

    With --server, the examples go to a running `monolith serve`; when the
    data has labels, the command prints `auc=<x>` instead of the scores.
    """
    if server is not None:
        from monolith.app.cli.predict_server import predict_on_server

        predict_on_server(server, data, limit, batch_size, out)
        return
    run = load_run_config(
        config_file,
        sets,
        flags={"model_dir": model_dir, "data": data, "batch_size": batch_size},
    )
    scores = predict_offline(run.to_runner_config())
    write_scores(scores, out)
