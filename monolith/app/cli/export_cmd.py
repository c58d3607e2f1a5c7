"""``monolith export``: a checkpoint as a versioned, optionally quantized export."""

from __future__ import annotations

import click

from monolith.domain.export_layout import parse_format, parse_version
from monolith.domain.export_validation import (
    DEFAULT_MAX_ERROR,
    DEFAULT_VALIDATION_EXAMPLES,
)
from monolith.domain.quantization import parse_bits


@click.command("export")
@click.option(
    "--checkpoint",
    required=True,
    metavar="PATH",
    help="A checkpoint-<step>.json manifest, or a model dir (newest valid).",
)
@click.option(
    "--output", required=True, metavar="DIR", help="Export base; writes DIR/<version>/."
)
@click.option(
    "--model-version",
    default=None,
    metavar="V",
    help="Version directory name (an integer); default: the checkpoint step.",
)
@click.option(
    "--quantize",
    default=None,
    metavar="8|16",
    help="16 = float16, 8 = int8 with a per-row scale; default: float32.",
)
@click.option(
    "--warmup",
    default=None,
    metavar="FILE",
    help="Warmup requests (file or directory) copied to assets.extra/.",
)
@click.option(
    "--format",
    "export_format",
    default="monolith",
    show_default=True,
    metavar="FORMAT",
    help="monolith (backend-neutral) or saved_model (TF backend only).",
)
@click.option(
    "--max-error",
    type=float,
    default=DEFAULT_MAX_ERROR,
    show_default=True,
    help="Bound on embedding error and prediction difference when quantized.",
)
@click.option(
    "--validation-examples",
    type=click.IntRange(min=1),
    default=DEFAULT_VALIDATION_EXAMPLES,
    show_default=True,
    help="Size of the validation batch drawn from the checkpoint's fids.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing version.")
def export(
    checkpoint: str,
    output: str,
    model_version: str | None,
    quantize: str | None,
    warmup: str | None,
    export_format: str,
    max_error: float,
    validation_examples: int,
    overwrite: bool,
) -> None:
    """Export a checkpoint to DIR/<version>/ with a validation report.

    The version is written to a temp directory and renamed into place. With
    --quantize, validation.json records the embedding error and the prediction
    difference on a validation batch; above --max-error the version is not
    published and the command fails.
    """
    from monolith.app.export.exporter import ExportRequest
    from monolith.app.export.wiring import run_export

    request = ExportRequest(
        checkpoint=checkpoint,
        output=output,
        model_version=None if model_version is None else parse_version(model_version),
        quantize_bits=parse_bits(quantize),
        warmup=warmup,
        format=parse_format(export_format),
        max_error=max_error,
        overwrite=overwrite,
        validation_examples=validation_examples,
    )
    result = run_export(request)
    report = result.report
    click.echo(
        f"exported version={result.version} path={result.path} "
        f"step={result.manifest.step} bits={result.manifest.quantize_bits} "
        f"format={result.manifest.format} passed={str(report.passed).lower()} "
        f"embedding_max_abs_error={report.embedding_max_abs_error:.3g} "
        f"prediction_max_abs_diff={report.prediction_max_abs_diff:.3g}"
    )
