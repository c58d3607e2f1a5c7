"""The serving half of ``monolith demo``: export, serve, predict over gRPC, stop.

:func:`export_serve_predict` is what the demo runs after training: it exports
the newest checkpoint as int8 (with validation), starts the gRPC Prediction
service in this process on a free loopback port, scores the evaluation data
through a real gRPC client, and shuts the server down gracefully.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import attrs

from monolith.app.export.exporter import ExportRequest
from monolith.app.export.wiring import run_export
from monolith.app.serving.remote_predict import predict_remote
from monolith.app.serving.runner import RunningServer
from monolith.domain.serve_settings import ServeSettings

logger = logging.getLogger(__name__)


@attrs.frozen
class ServingDemoResult:
    """What the serving half of the demo did."""

    export_path: str
    version: int
    address: str
    examples: int
    auc: float
    embedding_max_abs_error: float
    prediction_max_abs_diff: float

    def lines(self) -> list[str]:
        return [
            f"exported version={self.version} path={self.export_path} bits=8 "
            f"embedding_max_abs_error={self.embedding_max_abs_error:.3g} "
            f"prediction_max_abs_diff={self.prediction_max_abs_diff:.3g}",
            f"served address={self.address} predicted examples={self.examples} "
            f"auc={self.auc:.6f} (over gRPC)",
            "server stopped",
        ]


def export_serve_predict(
    model_dir: str,
    work_dir: str,
    eval_data: str,
    echo: Callable[[str], None] | None = None,
    limit: int | None = None,
) -> ServingDemoResult:
    """Export ``model_dir`` below ``work_dir``, serve it, score ``eval_data``.

    Args:
        model_dir: The trained model directory (newest valid checkpoint).
        work_dir: Exports go to ``work_dir/exports``.
        eval_data: Data pattern with labels (``meta.json`` beside it).
        echo: Called with each progress line (e.g. ``click.echo``).
        limit: Score at most this many examples.
    """
    export_dir = os.path.join(work_dir, "exports")
    exported = run_export(
        ExportRequest(model_dir, export_dir, quantize_bits=8, overwrite=True)
    )
    settings = ServeSettings(export_dir=export_dir, port=0, grace=5.0)
    with RunningServer(settings) as running:
        scores = predict_remote(running.address, eval_data, limit=limit)
        address = running.address
    result = ServingDemoResult(
        export_path=exported.path,
        version=exported.version,
        address=address,
        examples=int(scores.scores.shape[0]),
        auc=scores.auc,
        embedding_max_abs_error=exported.report.embedding_max_abs_error,
        prediction_max_abs_diff=exported.report.prediction_max_abs_diff,
    )
    if echo is not None:
        for line in result.lines():
            echo(line)
    return result
