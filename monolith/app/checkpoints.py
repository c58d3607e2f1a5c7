"""Checkpoints of a model directory: save, verify, list, restore and retention.

Layout and rules are BEHAVIOUR.md decisions 1 and 2 (see
:mod:`monolith.domain.checkpoint`): the payload goes first into
``checkpoint-<step>.data/`` (``tables/`` from the parameter store's snapshot,
``dense/<name>.npy`` from the backend's state), and the manifest listing
every payload file with its size and sha256 is written last with
``atomic_write``. A checkpoint exists iff its manifest exists and verifies, so
a process killed mid-save leaves at most an orphan payload directory, which
the next save removes.

Protected checkpoints (the one restored in this run, and any listed in
``model_dir/monolith_checkpoint.json`` as ``{"protected_steps": [...]}``) are
never deleted and do not count toward ``max_to_keep``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from monolith.adapters.clock.system import SystemClock
from monolith.domain.checkpoint import (
    CheckpointManifest,
    PayloadFile,
    manifest_name,
    parse_manifest_name,
    payload_dir_name,
)
from monolith.domain.errors import (
    CheckpointError,
    MonolithError,
    NoCheckpointError,
    NotFoundError,
)
from monolith.domain.paths import join
from monolith.domain.retention import (
    PROTECTED_LIST_NAME,
    CheckpointRecord,
    DeleteKind,
    parse_protected_list,
    plan_retention,
    render_protected_list,
)
from monolith.ports.clock import Clock
from monolith.ports.compute import ComputeBackend
from monolith.ports.parameters import ParameterStore
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

TABLES_DIR = "tables"
DENSE_DIR = "dense"
_HASH_CHUNK = 1 << 20

Float32Array = npt.NDArray[np.float32]


@attrs.frozen
class CheckpointStatus:
    """One checkpoint of a model directory and whether it verifies.

    ``problem`` is None for a valid checkpoint, else what is wrong with it.
    """

    step: int
    manifest_path: str
    manifest: CheckpointManifest | None
    problem: str | None

    @property
    def valid(self) -> bool:
        return self.problem is None


def sha256_of(fs: FileSystem, path: str) -> str:
    """The hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with fs.open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def dense_file_name(name: str) -> str:
    """The payload file name of a dense state entry (reversible quoting)."""
    return urllib.parse.quote(name, safe="") + ".npy"


def dense_entry_name(file_name: str) -> str:
    """Inverse of :func:`dense_file_name`."""
    return urllib.parse.unquote(file_name.removesuffix(".npy"))


def resolve_checkpoint(fs: FileSystem, path: str) -> tuple[str, int]:
    """``(model_dir, step)`` of a manifest path, or of a directory's newest valid one.

    Raises:
        CheckpointError: ``path`` is neither a manifest nor a directory.
        NoCheckpointError: a directory holds no valid checkpoint.
    """
    base = path.rstrip("/")
    name = base.rsplit("/", 1)[-1]
    step = parse_manifest_name(name)
    if step is None and name.endswith(".data"):
        step = parse_manifest_name(name.removesuffix(".data") + ".json")
    if step is not None:
        model_dir = base[: -len(name)].rstrip("/") or "."
        return model_dir, step
    if fs.isdir(base):
        latest = CheckpointManager(fs, base).latest_valid()
        return base, latest.step
    raise CheckpointError(
        f"{path!r} is not a checkpoint: expected a model directory or a "
        "checkpoint-<step>.json manifest"
    )


class CheckpointManager:
    """Saves and restores the checkpoints of one model directory.

    Args:
        fs: The file system of ``model_dir``; the parameter store must write
            its snapshots to the same file system.
        model_dir: Directory (or URI) holding the checkpoints.
        clock: Wall time recorded in manifests; the system clock if omitted.
        max_to_keep: Unprotected checkpoints kept after each save; 0 keeps all.
    """

    def __init__(
        self,
        fs: FileSystem,
        model_dir: str,
        clock: Clock | None = None,
        *,
        max_to_keep: int = 10,
    ) -> None:
        if max_to_keep < 0:
            raise CheckpointError(
                f"max_to_keep must be >= 0 (0 keeps all), got {max_to_keep}"
            )
        self.fs = fs
        self.model_dir = model_dir
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.max_to_keep = max_to_keep
        self._restored: set[int] = set()

    # ------------------------------------------------------------------ paths

    def manifest_path(self, step: int) -> str:
        return join(self.model_dir, manifest_name(step))

    def payload_path(self, step: int) -> str:
        return join(self.model_dir, payload_dir_name(step))

    # ------------------------------------------------------------------ save

    def save(
        self,
        step: int,
        store: ParameterStore,
        backend: ComputeBackend,
        *,
        task: str,
        config: Mapping[str, Any] | None = None,
        model_spec: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> CheckpointManifest:
        """Write checkpoint ``step``, then delete what retention says.

        Saving a step whose manifest already exists returns that manifest.

        Raises:
            CheckpointError: ``step`` is not positive, or writing failed.
        """
        if step <= 0:
            raise CheckpointError(f"checkpoints are saved at step >= 1, got {step}")
        existing = self._read_manifest_or_none(step)
        if existing is not None:
            return existing
        self.fs.makedirs(self.model_dir)
        self._remove_orphans(step)
        payload = self.payload_path(step)
        if self.fs.exists(payload):
            self.fs.rmtree(payload)
        self.fs.makedirs(payload)

        start = self._now()
        try:
            store.snapshot(join(payload, TABLES_DIR))
            for name, array in backend.state().items():
                self._write_npy(join(payload, DENSE_DIR, dense_file_name(name)), array)
            files = self._describe_payload(payload)
        except MonolithError:
            raise
        except (OSError, ValueError) as exc:
            raise CheckpointError(
                f"cannot write checkpoint {step} in {self.model_dir!r}: {exc}"
            ) from exc
        manifest = CheckpointManifest(
            step=step,
            wall_time=self._now(),
            task=task,
            backend=backend.name,
            config=dict(config or {}),
            files=files,
            model_spec=dict(model_spec or {}),
            extra=dict(extra or {}),
        )
        with self.fs.atomic_write(self.manifest_path(step)) as handle:
            handle.write(manifest.to_json().encode("utf-8"))
        size = sum(f.size for f in files)
        logger.info(
            "checkpoint saved step=%d path=%s files=%d bytes=%d secs=%.3f",
            step,
            self.manifest_path(step),
            len(files),
            size,
            self._now() - start,
        )
        self.apply_retention()
        return manifest

    def _write_npy(self, path: str, array: Float32Array) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array), allow_pickle=False)
        with self.fs.atomic_write(path) as handle:
            handle.write(buffer.getvalue())

    def _describe_payload(self, payload: str) -> tuple[PayloadFile, ...]:
        prefix = payload.rstrip("/") + "/"
        files = []
        for path in self.fs.walk_files(payload):
            relative = path[len(prefix) :] if path.startswith(prefix) else path
            files.append(
                PayloadFile(relative, self.fs.size(path), sha256_of(self.fs, path))
            )
        return tuple(files)

    def _remove_orphans(self, below_step: int) -> None:
        """Delete manifest-less payload directories of steps before ``below_step``."""
        manifests = set(self.steps())
        for name in self._listdir():
            if not name.endswith(".data"):
                continue
            step = parse_manifest_name(name.removesuffix(".data") + ".json")
            if step is not None and step < below_step and step not in manifests:
                logger.info("orphan checkpoint payload removed step=%d", step)
                self.fs.rmtree(join(self.model_dir, name))

    # ------------------------------------------------------------------ list

    def _listdir(self) -> list[str]:
        if not self.fs.isdir(self.model_dir):
            return []
        return self.fs.listdir(self.model_dir)

    def steps(self) -> list[int]:
        """Steps that have a manifest file (valid or not), ascending."""
        found = (parse_manifest_name(name) for name in self._listdir())
        return sorted(step for step in found if step is not None)

    def _read_manifest_or_none(self, step: int) -> CheckpointManifest | None:
        path = self.manifest_path(step)
        if not self.fs.exists(path):
            return None
        try:
            return self.read_manifest(step)
        except CheckpointError:
            return None

    def read_manifest(self, step: int) -> CheckpointManifest:
        """The parsed manifest of ``step`` (not verified).

        Raises:
            NoCheckpointError: there is no manifest for ``step``.
            CheckpointError: the manifest does not parse.
        """
        path = self.manifest_path(step)
        try:
            with self.fs.open(path, "rb") as handle:
                text = handle.read().decode("utf-8")
        except NotFoundError as exc:
            raise NoCheckpointError(
                f"no checkpoint {step} in {self.model_dir!r}: {path!r} does not exist"
            ) from exc
        except UnicodeDecodeError as exc:
            raise CheckpointError(f"checkpoint manifest {path!r} is not UTF-8") from exc
        manifest = CheckpointManifest.from_json(text, source=path)
        if manifest.step != step:
            raise CheckpointError(
                f"checkpoint manifest {path!r} records step {manifest.step}, "
                f"expected {step}"
            )
        return manifest

    def verify(self, step: int, *, checksums: bool = True) -> CheckpointStatus:
        """Check that every payload file of ``step`` has its recorded size and hash.

        With ``checksums=False`` only existence and sizes are checked.
        """
        path = self.manifest_path(step)
        try:
            manifest = self.read_manifest(step)
        except CheckpointError as exc:
            return CheckpointStatus(step, path, None, str(exc))
        payload = self.payload_path(step)
        for entry in manifest.files:
            file_path = join(payload, entry.path)
            if not self.fs.exists(file_path):
                return CheckpointStatus(step, path, manifest, f"missing {entry.path}")
            size = self.fs.size(file_path)
            if size != entry.size:
                problem = f"{entry.path} has {size} bytes, manifest says {entry.size}"
                return CheckpointStatus(step, path, manifest, problem)
            if checksums and sha256_of(self.fs, file_path) != entry.sha256:
                return CheckpointStatus(
                    step, path, manifest, f"{entry.path} fails its sha256 check"
                )
        return CheckpointStatus(step, path, manifest, None)

    def checkpoints(self, *, checksums: bool = False) -> list[CheckpointStatus]:
        """Every checkpoint manifest in the directory with its status, oldest first."""
        return [self.verify(step, checksums=checksums) for step in self.steps()]

    def latest_valid(self) -> CheckpointStatus:
        """The highest step whose checkpoint fully verifies.

        Raises:
            NoCheckpointError: no checkpoint in the directory verifies.
        """
        for step in reversed(self.steps()):
            status = self.verify(step)
            if status.valid:
                return status
            logger.warning("checkpoint skipped step=%d reason=%s", step, status.problem)
        raise NoCheckpointError(
            f"no valid checkpoint in {self.model_dir!r}: expected a "
            "checkpoint-<step>.json manifest whose payload verifies"
        )

    def has_checkpoint(self) -> bool:
        """Whether any checkpoint in the directory verifies."""
        try:
            self.latest_valid()
        except NoCheckpointError:
            return False
        return True

    # ------------------------------------------------------------------ restore

    def restore(
        self,
        store: ParameterStore,
        backend: ComputeBackend | None,
        step: int | None = None,
    ) -> CheckpointManifest:
        """Load checkpoint ``step`` (default: newest valid) into store and backend.

        The restored checkpoint is protected from retention for the rest of
        this manager's life.

        Raises:
            NoCheckpointError: no valid checkpoint (or none at ``step``).
            CheckpointError: the checkpoint at ``step`` does not verify.
        """
        status = self.latest_valid() if step is None else self.verify(step)
        if not status.valid or status.manifest is None:
            raise CheckpointError(
                f"checkpoint {status.step} in {self.model_dir!r} does not verify: "
                f"{status.problem}"
            )
        payload = self.payload_path(status.step)
        store.restore(join(payload, TABLES_DIR))
        if backend is not None:
            backend.load_state(self.load_dense(status.step))
        self._restored.add(status.step)
        logger.info(
            "restored from checkpoint-%d path=%s", status.step, status.manifest_path
        )
        return status.manifest

    def load_dense(self, step: int) -> dict[str, Float32Array]:
        """The backend state saved with checkpoint ``step``."""
        manifest = self.read_manifest(step)
        payload = self.payload_path(step)
        state: dict[str, Float32Array] = {}
        for entry in manifest.files:
            head, _, file_name = entry.path.partition("/")
            if head != DENSE_DIR:
                continue
            with self.fs.open(join(payload, entry.path), "rb") as handle:
                data = handle.read()
            state[dense_entry_name(file_name)] = np.load(
                io.BytesIO(data), allow_pickle=False
            )
        return state

    # ------------------------------------------------------------------ retention

    def protected_steps(self) -> set[int]:
        """Steps never deleted: restored in this run or listed in the protect file."""
        return self._restored | set(self._listed_protected())

    def _listed_protected(self) -> frozenset[int]:
        path = join(self.model_dir, PROTECTED_LIST_NAME)
        if not self.fs.exists(path):
            return frozenset()
        with self.fs.open(path, "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
        return parse_protected_list(text, source=path)

    def protect(self, step: int) -> None:
        """Add ``step`` to ``monolith_checkpoint.json`` (kept forever)."""
        steps = self._listed_protected() | {step}
        with self.fs.atomic_write(join(self.model_dir, PROTECTED_LIST_NAME)) as f:
            f.write(render_protected_list(steps).encode("utf-8"))

    def apply_retention(self) -> list[int]:
        """Delete every unprotected checkpoint beyond the newest ``max_to_keep``.

        Invalid checkpoints are neither counted nor deleted.

        Returns:
            The deleted steps, oldest first.
        """
        records = [
            CheckpointRecord(status.step, status.valid) for status in self.checkpoints()
        ]
        plan = plan_retention(records, self.max_to_keep, self.protected_steps())
        for action in plan.actions(self.model_dir):
            if not self.fs.exists(action.path):
                continue
            if action.kind is DeleteKind.FILE:
                self.fs.remove(action.path)
            else:
                self.fs.rmtree(action.path)
        for step in plan.delete:
            logger.info("checkpoint deleted step=%d dir=%s", step, self.model_dir)
        return list(plan.delete)

    def _now(self) -> float:
        return self.clock.now()
