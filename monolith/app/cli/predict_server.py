"""The ``--server`` mode of ``monolith predict``: score data on ``monolith serve``."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from monolith.domain.errors import UsageError


def predict_on_server(
    server: str,
    data: str | None,
    limit: int | None,
    batch_size: int | None,
    out: Path | None,
) -> None:
    """Print ``auc=<x>`` when the data has labels of both classes, else the scores.

    With ``out`` the scores are written there, one per line, in both cases.
    """
    from monolith.app.serving.remote_predict import predict_remote

    if data is None:
        raise UsageError("predict --server needs --data PATTERN")
    result = predict_remote(server, data, limit=limit, batch_size=batch_size or 256)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(f"{float(s):.6f}\n" for s in result.scores))
    if result.has_auc:
        click.echo(
            f"auc={result.auc:.6f} examples={result.scores.shape[0]} "
            f"model_version={result.model_version}"
        )
    elif out is None:
        lines = "".join(f"{float(s):.6f}\n" for s in np.asarray(result.scores))
        click.echo(lines, nl=False)
