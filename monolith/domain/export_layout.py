"""The layout of an export: ``<export_dir>/<version>/`` and its manifest.

An export version directory holds::

    export.json            this manifest (written last inside the temp dir)
    model_spec.json        the model spec, for readers that want only it
    dense/<name>.npy       dense parameters (no optimizer state)
    tables/<table>/fids.npy     int64 fids, sorted
    tables/<table>/values.npy   float32, float16 or int8 rows
    tables/<table>/scales.npy   float32 per-row scales (int8 only)
    assets.extra/...       warmup requests
    validation.json        the quantization report

A version is an integer directory name; it is built in a temp sibling
(``.tmp-<version>-...``) and renamed into place, so readers that list only
integer names never see a partial export.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from monolith.domain.errors import ExportError, UsageError

MANIFEST_NAME = "export.json"
MODEL_SPEC_NAME = "model_spec.json"
VALIDATION_NAME = "validation.json"
ASSETS_EXTRA = "assets.extra"
WARMUP_FILE_NAME = "tf_serving_warmup_requests"
FORMAT_VERSION = 1

SUPPORTED_FORMATS = ("monolith", "saved_model")
KNOWN_UNSUPPORTED_FORMATS = ("onnx", "torchscript")


@attrs.frozen
class ExportedTable:
    """One table in an export."""

    name: str
    rows: int
    width: int
    bits: int


@attrs.frozen
class ExportManifest:
    """What an export version records about itself."""

    version: int
    step: int
    backend: str
    task: str
    format: str
    quantize_bits: int
    source_checkpoint: str
    checkpoint_wall_time: float
    created_at: float
    tables: tuple[ExportedTable, ...]
    dense: tuple[str, ...]
    model_spec: Mapping[str, Any]
    warmup_files: tuple[str, ...] = ()
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = attrs.asdict(self)
        data["model_spec"] = dict(self.model_spec)
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "<export>") -> ExportManifest:
        try:
            data = json.loads(text)
            return cls(
                version=int(data["version"]),
                step=int(data["step"]),
                backend=str(data["backend"]),
                task=str(data["task"]),
                format=str(data["format"]),
                quantize_bits=int(data["quantize_bits"]),
                source_checkpoint=str(data["source_checkpoint"]),
                checkpoint_wall_time=float(data["checkpoint_wall_time"]),
                created_at=float(data["created_at"]),
                tables=tuple(
                    ExportedTable(
                        str(t["name"]), int(t["rows"]), int(t["width"]), int(t["bits"])
                    )
                    for t in data["tables"]
                ),
                dense=tuple(str(d) for d in data["dense"]),
                model_spec=dict(data["model_spec"]),
                warmup_files=tuple(str(w) for w in data.get("warmup_files", ())),
                format_version=int(data.get("format_version", FORMAT_VERSION)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ExportError(f"export manifest {source} is not valid: {exc}") from exc


def parse_format(value: str) -> str:
    """The export format, or an error listing the supported ones."""
    name = value.strip().lower()
    if name in SUPPORTED_FORMATS:
        return name
    supported = ", ".join(SUPPORTED_FORMATS)
    if name in KNOWN_UNSUPPORTED_FORMATS:
        raise UsageError(
            f"--format {value} is not supported by monolith export; "
            f"supported formats: {supported}"
        )
    raise UsageError(f"--format {value!r} is unknown; supported formats: {supported}")


def parse_version(value: str | int) -> int:
    """A model version: a non-negative integer (it names a directory)."""
    text = str(value).strip()
    if not text.isdigit():
        raise UsageError(
            f"--model-version {value!r} must be a non-negative integer "
            "(versions are directory names compared numerically)"
        )
    return int(text)


def version_dirs(names: Iterable[str]) -> list[int]:
    """The integer version names among directory entries, ascending."""
    return sorted(int(n) for n in names if n.isdigit())


def newest_version(names: Iterable[str]) -> int | None:
    """The highest integer version among ``names``, or None."""
    versions = version_dirs(names)
    return versions[-1] if versions else None


def is_inside(root: str, path: str) -> bool:
    """Whether normalised absolute ``path`` equals or lies below ``root``.

    Both arguments must already be resolved (symlinks followed) by the caller;
    this only compares the normalised strings component-wise.
    """
    root_n = posixpath.normpath(root)
    path_n = posixpath.normpath(path)
    if root_n == path_n:
        return True
    prefix = root_n if root_n.endswith("/") else root_n + "/"
    return path_n.startswith(prefix)


def check_relative_asset(name: str) -> str:
    """A relative path inside ``assets.extra/``; ``..`` and absolute paths refused."""
    normalised = posixpath.normpath(name)
    if (
        not name
        or name.startswith("/")
        or normalised == ".."
        or normalised.startswith("../")
    ):
        raise UsageError(
            f"warmup path {name!r} escapes the export directory; use a path "
            f"inside {ASSETS_EXTRA}/"
        )
    return normalised
