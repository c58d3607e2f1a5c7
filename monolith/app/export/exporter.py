"""The export use case (decision 13): checkpoint -> ``<output>/<version>/``.

Steps: resolve and verify the checkpoint; refuse an existing version unless
``overwrite``; restore tables and tower; quantize the tables; validate
(embedding error and prediction difference on a validation batch against the
bound); write everything through the FileSystem port into a temp directory
beside the target; publish it with ``fs.rename`` (see
:mod:`monolith.app.export.version_writer`). A failed validation leaves the
version unpublished: the temp directory is kept as
``<output>/.rejected-<version>/`` with its ``validation.json`` for
inspection, and the export raises QuantizationError.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable

import attrs
import numpy as np
import numpy.typing as npt

from monolith.app.export.source import (
    BackendFactory,
    CheckpointContents,
    StoreFactory,
    locate_checkpoint,
    read_contents,
)
from monolith.app.export.version_writer import (
    SavedModelWriter,
    publish,
    remove_quietly,
    set_aside,
    write_version,
)
from monolith.app.serving.model import tower_inputs
from monolith.domain.batch import Batch
from monolith.domain.errors import (
    AlreadyExistsError,
    QuantizationError,
    UsageError,
)
from monolith.domain.export_layout import (
    VALIDATION_NAME,
    ExportManifest,
    parse_format,
)
from monolith.domain.export_validation import (
    DEFAULT_MAX_ERROR,
    DEFAULT_VALIDATION_EXAMPLES,
    ValidationReport,
    judge,
    sample_validation_batch,
)
from monolith.domain.paths import join, scheme
from monolith.domain.quantization import (
    QuantizedRows,
    abs_error,
    combine_errors,
    dequantize_rows,
    quantize_rows,
)
from monolith.domain.serving_table import ServingTable
from monolith.ports.clock import Clock
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]


@attrs.frozen
class ExportRequest:
    """Arguments of one export.

    Attributes:
        checkpoint: A ``checkpoint-<step>.json`` manifest or a model directory.
        output: The export base directory (versions go below it).
        model_version: The version directory name; the checkpoint step if None.
        quantize_bits: 32 (none), 16 or 8.
        warmup: A warmup request file or directory, copied to assets.extra/.
        format: ``monolith`` or ``saved_model`` (TF backend only).
        max_error: Bound on embedding and prediction error for quantized exports.
        overwrite: Replace an existing version instead of failing.
        validation_batch: Inputs for the prediction check; drawn from the
            checkpoint's fids when None.
        validation_examples: Size of the drawn validation batch.
    """

    checkpoint: str
    output: str
    model_version: int | None = None
    quantize_bits: int = 32
    warmup: str | None = None
    format: str = "monolith"
    max_error: float = DEFAULT_MAX_ERROR
    overwrite: bool = False
    validation_batch: Batch | None = None
    validation_examples: int = DEFAULT_VALIDATION_EXAMPLES


@attrs.frozen
class ExportResult:
    """A published export version."""

    version: int
    path: str
    manifest: ExportManifest
    report: ValidationReport


def _validate(
    contents: CheckpointContents,
    quantized: dict[str, QuantizedRows],
    request: ExportRequest,
) -> ValidationReport:
    stats = combine_errors(
        [
            abs_error(contents.tables[name][1], dequantize_rows(q))
            for name, q in quantized.items()
        ]
    )
    if request.validation_batch is not None:
        batch, source = request.validation_batch, "given inputs"
    else:
        fids = {name: f for name, (f, _) in contents.tables.items()}
        batch = sample_validation_batch(
            contents.spec, fids, request.validation_examples, seed=contents.ref.step
        )
        source = "sampled from the checkpoint's fids"
    diff = 0.0
    if request.quantize_bits != 32 and batch.size > 0:
        exact = {
            name: ServingTable(name, f, QuantizedRows(32, rows))
            for name, (f, rows) in contents.tables.items()
        }
        approx = {
            name: ServingTable(name, contents.tables[name][0], q)
            for name, q in quantized.items()
        }
        scores = []
        for tables in (exact, approx):
            inputs = tower_inputs(
                contents.spec,
                batch.sparse,
                batch.dense,
                batch.size,
                _lookup_in(tables),
            )
            scores.append(
                np.asarray(contents.backend.predict(inputs), dtype=np.float64)
            )
        with np.errstate(invalid="ignore"):
            delta = np.abs(scores[0] - scores[1])
        diff = float(np.max(np.where(np.isnan(delta), np.inf, delta)))
    return judge(
        request.quantize_bits,
        stats,
        diff,
        request.max_error,
        batch.size,
        source,
    )


def _lookup_in(
    tables: dict[str, ServingTable],
) -> Callable[[str, Int64Array], Float32Array]:
    def lookup(table: str, fids: Int64Array) -> Float32Array:
        return tables[table].lookup(fids)

    return lookup


def export_model(
    request: ExportRequest,
    fs: FileSystem,
    make_store: StoreFactory,
    make_backend: BackendFactory,
    clock: Clock,
    saved_model_writer: SavedModelWriter | None = None,
    output_fs: FileSystem | None = None,
) -> ExportResult:
    """Export one checkpoint as ``<output>/<version>/`` (see the module docstring).

    The checkpoint is read through ``fs``; the version is written and
    published through ``output_fs`` (``fs`` when None), so ``output`` may be a
    ``memory://`` or ``hdfs://`` URI (see :mod:`.version_writer`).

    Raises:
        NotFoundError / NoCheckpointError / CheckpointError: the checkpoint.
        UsageError: an unsupported format or bad warmup path.
        AlreadyExistsError: the version exists and ``overwrite`` is False.
        QuantizationError: validation exceeded ``max_error`` (not published).
        ExportError: the export could not be written.
    """
    export_format = parse_format(request.format)
    if request.quantize_bits not in (32, 16, 8):
        raise UsageError(
            f"quantize_bits must be 32, 16 or 8, got {request.quantize_bits}"
        )
    if not request.max_error >= 0:
        raise UsageError(f"--max-error must be >= 0, got {request.max_error}")
    ref = locate_checkpoint(fs, request.checkpoint)
    if export_format == "saved_model" and ref.manifest.backend not in (
        "tf",
        "tensorflow",
    ):
        raise UsageError(
            f"--format saved_model needs a checkpoint of the tf backend; "
            f"{ref.manifest_path} was trained with {ref.manifest.backend}. "
            "Use --format monolith (served by monolith serve)"
        )
    version = request.model_version if request.model_version is not None else ref.step
    out_fs = output_fs if output_fs is not None else fs
    output = request.output.rstrip("/") or request.output
    if scheme(output) is None:
        output = os.path.abspath(output)
    target = join(output, str(version))
    if out_fs.exists(target) and not request.overwrite:
        raise AlreadyExistsError(
            f"export version {target} already exists; pass --overwrite to replace "
            "it or --model-version for a new version"
        )

    contents = read_contents(fs, ref, make_store, make_backend)
    quantized = {
        name: quantize_rows(rows, request.quantize_bits)
        for name, (_, rows) in contents.tables.items()
    }
    report = _validate(contents, quantized, request)

    out_fs.makedirs(output)
    tmp = join(output, f".tmp-{version}-{uuid.uuid4().hex[:8]}")
    try:
        manifest = write_version(
            out_fs,
            tmp,
            version,
            contents,
            quantized,
            report,
            request.warmup,
            export_format,
            clock.now(),
            saved_model_writer,
        )
    except BaseException:
        remove_quietly(out_fs, tmp)
        raise
    if not report.passed:
        rejected = join(output, f".rejected-{version}")
        set_aside(out_fs, tmp, rejected)
        raise QuantizationError(
            f"quantized export (int{request.quantize_bits}"
            f"{'' if request.quantize_bits == 8 else ' float'}) failed validation: "
            f"{'; '.join(report.failures)}; version {version} not published, "
            f"report in {join(rejected, VALIDATION_NAME)}"
        )
    publish(out_fs, tmp, target)
    logger.info(
        "export published version=%d path=%s bits=%d format=%s "
        "embedding_max_abs_error=%.3g prediction_max_abs_diff=%.3g",
        version,
        target,
        request.quantize_bits,
        export_format,
        report.embedding_max_abs_error,
        report.prediction_max_abs_diff,
    )
    return ExportResult(version, target, manifest, report)
