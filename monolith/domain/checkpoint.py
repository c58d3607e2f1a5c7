"""Checkpoint manifests (decision 1): naming, content and (de)serialisation.

A checkpoint is ``<model_dir>/checkpoint-<step>.json`` (this manifest) plus
``<model_dir>/checkpoint-<step>.data/`` (payload ``.npy`` files). The manifest
is written last and atomically, so a checkpoint exists iff its manifest exists
and every payload file it lists has the recorded size and sha256.

Payload layout inside ``checkpoint-<step>.data/``:
    ``dense/<name>.npy``          backend state (parameters and optimizer state)
    ``tables/...``                the parameter store's snapshot
    ``extra/...``                 anything else a hook saves (e.g. input state)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from monolith.domain.errors import CheckpointError

# No leading zeros: ``checkpoint-007.json`` is not the manifest of step 7.
MANIFEST_RE = re.compile(r"^checkpoint-(0|[1-9][0-9]*)\.json$")
FORMAT_VERSION = 1


def manifest_name(step: int) -> str:
    """``checkpoint-<step>.json``."""
    if step < 0:
        raise CheckpointError(f"checkpoint step must be >= 0, got {step}")
    return f"checkpoint-{step}.json"


def payload_dir_name(step: int) -> str:
    """``checkpoint-<step>.data``."""
    return f"checkpoint-{step}.data"


def parse_manifest_name(name: str) -> int | None:
    """The step of a manifest file name, or None if ``name`` is not one."""
    match = MANIFEST_RE.match(name)
    return int(match.group(1)) if match else None


@attrs.frozen
class PayloadFile:
    """One payload file, relative to the payload directory."""

    path: str
    size: int
    sha256: str


@attrs.frozen
class CheckpointManifest:
    """Everything a checkpoint records about itself."""

    step: int
    wall_time: float
    task: str
    backend: str
    config: Mapping[str, Any]
    files: tuple[PayloadFile, ...]
    model_spec: Mapping[str, Any] = attrs.field(factory=dict)
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = {
            "format_version": self.format_version,
            "step": self.step,
            "wall_time": self.wall_time,
            "task": self.task,
            "backend": self.backend,
            "config": dict(self.config),
            "model_spec": dict(self.model_spec),
            "extra": dict(self.extra),
            "files": [attrs.asdict(f) for f in self.files],
        }
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "<manifest>") -> CheckpointManifest:
        try:
            data = json.loads(text)
            return cls(
                step=int(data["step"]),
                wall_time=float(data["wall_time"]),
                task=str(data["task"]),
                backend=str(data["backend"]),
                config=dict(data.get("config", {})),
                files=tuple(
                    PayloadFile(str(f["path"]), int(f["size"]), str(f["sha256"]))
                    for f in data["files"]
                ),
                model_spec=dict(data.get("model_spec", {})),
                extra=dict(data.get("extra", {})),
                format_version=int(data.get("format_version", FORMAT_VERSION)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(
                f"checkpoint manifest {source} is not valid: {exc}"
            ) from exc
