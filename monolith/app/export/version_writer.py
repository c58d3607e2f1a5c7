"""Write one export version through the FileSystem port and publish it.

Every file goes through :class:`~monolith.ports.storage.FileSystem`, so the
export base directory may be local, ``memory://`` or ``hdfs://``. A version is
first written to a temp sibling ``<output>/.tmp-<version>-<id>/`` and then
published with one ``fs.rename`` of that directory. All shipped adapters
rename a directory onto an absent target in one step (``os.replace`` on the
local disk, one locked move in memory, one NameNode RENAME on HDFS), so a
reader listing ``<output>`` sees either no version or the whole one; the temp
name starts with ``.``, which version scans skip. The manifest
``export.json`` is still written last, so even a copied-by-hand tree without
it is refused by the loader (ExportError) rather than half-served. A storage
backend whose rename cannot move a directory in one step would need a
manifest-last publication instead; none of the shipped adapters does.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from monolith.app.checkpoints import dense_file_name
from monolith.app.export.source import CheckpointContents
from monolith.app.export.warmup import copy_warmup
from monolith.domain.errors import ExportError, NotFoundError, StorageError
from monolith.domain.export_layout import (
    MANIFEST_NAME,
    MODEL_SPEC_NAME,
    VALIDATION_NAME,
    ExportedTable,
    ExportManifest,
)
from monolith.domain.export_validation import ValidationReport
from monolith.domain.model_spec import model_spec_to_dict
from monolith.domain.paths import join
from monolith.domain.quantization import QuantizedRows
from monolith.domain.serving_table import ServingTable
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

SavedModelWriter = Callable[[CheckpointContents, dict[str, ServingTable], str], None]
"""Writes a SavedModel into a LOCAL directory; the exporter uploads it."""


def save_npy(fs: FileSystem, path: str, array: npt.NDArray[np.generic]) -> None:
    """Write ``array`` as ``.npy`` at ``path`` (atomic per file, fsynced)."""
    with fs.atomic_write(path) as handle:
        np.save(handle, array, allow_pickle=False)


def write_text(fs: FileSystem, path: str, text: str) -> None:
    """Write ``text`` plus a newline as UTF-8 at ``path`` (atomic per file)."""
    with fs.atomic_write(path) as handle:
        handle.write((text + "\n").encode("utf-8"))


def upload_tree(fs: FileSystem, local_dir: str, target: str) -> int:
    """Copy every file below the local ``local_dir`` to ``target``; count them."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(local_dir):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            relative = os.path.relpath(path, local_dir).replace(os.sep, "/")
            with (
                open(path, "rb") as source,
                fs.atomic_write(join(target, relative)) as handle,
            ):
                shutil.copyfileobj(source, handle)
            count += 1
    return count


def write_version(
    fs: FileSystem,
    tmp: str,
    version: int,
    contents: CheckpointContents,
    quantized: dict[str, QuantizedRows],
    report: ValidationReport,
    warmup: str | None,
    export_format: str,
    created_at: float,
    saved_model_writer: SavedModelWriter | None,
) -> ExportManifest:
    """Write the whole version below ``tmp``; the manifest is written last."""
    fs.makedirs(tmp)
    for name, value in contents.dense.items():
        save_npy(fs, join(tmp, "dense", dense_file_name(name)), value)
    tables = []
    for name, q in quantized.items():
        base = join(tmp, "tables", name)
        save_npy(fs, join(base, "fids.npy"), contents.tables[name][0])
        save_npy(fs, join(base, "values.npy"), q.values)
        if q.scales is not None:
            save_npy(fs, join(base, "scales.npy"), q.scales)
        tables.append(ExportedTable(name, q.num_rows, int(q.values.shape[1]), q.bits))
    spec_dict = model_spec_to_dict(contents.spec)
    write_text(
        fs, join(tmp, MODEL_SPEC_NAME), json.dumps(spec_dict, indent=1, sort_keys=True)
    )
    copied = copy_warmup(warmup, tmp, fs) if warmup else []
    write_text(fs, join(tmp, VALIDATION_NAME), report.to_json())
    if export_format == "saved_model":
        if saved_model_writer is None:
            raise ExportError("--format saved_model needs the TensorFlow writer")
        serving_tables = {
            name: ServingTable(name, contents.tables[name][0], q)
            for name, q in quantized.items()
        }
        with tempfile.TemporaryDirectory(prefix="monolith-saved-model-") as local:
            saved_model_writer(contents, serving_tables, local)
            files = upload_tree(fs, local, tmp)
        logger.info("saved model uploaded files=%d path=%s", files, tmp)
    ref = contents.ref
    manifest = ExportManifest(
        version=version,
        step=ref.step,
        backend=ref.manifest.backend,
        task=ref.manifest.task,
        format=export_format,
        quantize_bits=report.quantize_bits,
        source_checkpoint=ref.manifest_path,
        checkpoint_wall_time=ref.manifest.wall_time,
        created_at=created_at,
        tables=tuple(sorted(tables, key=lambda t: t.name)),
        dense=tuple(sorted(contents.dense)),
        model_spec=spec_dict,
        warmup_files=tuple(copied),
    )
    write_text(fs, join(tmp, MANIFEST_NAME), manifest.to_json())
    return manifest


def remove_quietly(fs: FileSystem, path: str) -> None:
    """``fs.rmtree(path)`` ignoring a missing path; other failures are logged."""
    try:
        fs.rmtree(path)
    except NotFoundError:
        pass
    except StorageError as exc:
        logger.warning("export cleanup failed path=%s reason=%s", path, exc)


def set_aside(fs: FileSystem, tmp: str, target: str) -> None:
    """Move ``tmp`` to ``target``, first deleting whatever ``target`` holds."""
    if fs.exists(target):
        fs.rmtree(target)
    fs.rename(tmp, target)


def publish(fs: FileSystem, tmp: str, target: str) -> None:
    """Rename ``tmp`` to ``target``; an existing target is moved aside first.

    With ``--overwrite`` there is a short window in which the version is
    absent (never half-written); the old one is restored if the rename fails.
    """
    parent, name = target.rsplit("/", 1) if "/" in target else ("", target)
    old = None
    try:
        if fs.exists(target):
            old = join(parent, f".{name}.old-{uuid.uuid4().hex[:8]}")
            fs.rename(target, old)
        fs.rename(tmp, target)
    except StorageError as exc:
        if old is not None and not fs.exists(target):
            fs.rename(old, target)
        raise ExportError(f"cannot publish export {target}: {exc}") from exc
    if old is not None:
        remove_quietly(fs, old)
