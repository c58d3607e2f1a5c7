"""Restore-dir synchronisation between the chief and the other processes.

Decision 5 (BEHAVIOUR.md §9.3): the chief copies the chosen checkpoint of
``restore_dir`` (the latest valid one, or ``restore_ckpt`` when given and
present) into ``model_dir`` and marks it protected in
``model_dir/monolith_checkpoint.json``; it copies nothing if ``model_dir``
already holds a checkpoint (existing training wins). Every other process polls
for that file and fails with :class:`RestoreSyncError` after
``chief_timeout_secs``.

Unlike the original, the chief always leaves the marker file (an empty or
unchanged protected list when there was nothing to copy), so non-chief
processes never wait for a restore that is not going to happen.
"""

from __future__ import annotations

import logging

import attrs

from monolith.domain.checkpoint import (
    CheckpointManifest,
    manifest_name,
    parse_manifest_name,
    payload_dir_name,
)
from monolith.domain.errors import CheckpointError, RestoreSyncError
from monolith.domain.paths import join
from monolith.domain.retention import (
    PROTECTED_LIST_NAME,
    parse_protected_list,
    render_protected_list,
)
from monolith.ports.clock import Clock
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

DEFAULT_POLL_SECS = 5.0
_COPY_CHUNK = 1 << 20


@attrs.frozen
class RestoreOutcome:
    """What the chief did: ``copied`` step, or why nothing was copied."""

    copied_step: int | None
    reason: str


def _valid_steps(fs: FileSystem, directory: str) -> list[int]:
    if not fs.isdir(directory):
        return []
    steps = []
    for name in fs.listdir(directory):
        step = parse_manifest_name(name)
        if step is not None:
            steps.append(step)
    return sorted(steps)


def _requested_step(restore_ckpt: str) -> int | None:
    base = restore_ckpt.rstrip("/").rsplit("/", 1)[-1]
    if base.isdigit():
        return int(base)
    for candidate in (base, f"{base}.json", base.removesuffix(".data") + ".json"):
        step = parse_manifest_name(candidate)
        if step is not None:
            return step
    return None


def _copy_file(fs: FileSystem, src: str, dst: str) -> None:
    with fs.open(src, "rb") as reader, fs.atomic_write(dst) as writer:
        while chunk := reader.read(_COPY_CHUNK):
            writer.write(chunk)


def _ensure_marker(fs: FileSystem, model_dir: str, add: int | None) -> None:
    path = join(model_dir, PROTECTED_LIST_NAME)
    steps: frozenset[int] = frozenset()
    if fs.exists(path):
        with fs.open(path, "rb") as f:
            steps = parse_protected_list(f.read().decode("utf-8"), source=path)
        if add is None or add in steps:
            return
    with fs.atomic_write(path) as f:
        f.write(
            render_protected_list(
                steps | ({add} if add is not None else set())
            ).encode()
        )


def chief_restore(
    fs: FileSystem, model_dir: str, restore_dir: str, restore_ckpt: str | None = None
) -> RestoreOutcome:
    """Copy the chosen checkpoint of ``restore_dir`` into ``model_dir``.

    Returns:
        What was copied, or why nothing was.

    Raises:
        CheckpointError: the chosen manifest cannot be read.
    """
    fs.makedirs(model_dir)
    if _valid_steps(fs, model_dir):
        _ensure_marker(fs, model_dir, None)
        logger.info("restore skipped model_dir=%s reason=has-checkpoint", model_dir)
        return RestoreOutcome(None, "model_dir already has a checkpoint")
    available = _valid_steps(fs, restore_dir)
    if not available:
        logger.warning(
            "restore skipped restore_dir=%s reason=no-checkpoint", restore_dir
        )
        _ensure_marker(fs, model_dir, None)
        return RestoreOutcome(None, f"no checkpoint in restore_dir {restore_dir!r}")
    step = available[-1]
    if restore_ckpt:
        wanted = _requested_step(restore_ckpt)
        if wanted in available:
            step = wanted
        else:
            logger.warning(
                "restore_ckpt not found restore_ckpt=%s restore_dir=%s using_step=%d",
                restore_ckpt,
                restore_dir,
                step,
            )

    manifest_src = join(restore_dir, manifest_name(step))
    with fs.open(manifest_src, "rb") as f:
        text = f.read().decode("utf-8")
    manifest = CheckpointManifest.from_json(text, source=manifest_src)
    for payload in manifest.files:
        rel = f"{payload_dir_name(step)}/{payload.path}"
        src, dst = join(restore_dir, rel), join(model_dir, rel)
        if not fs.exists(src):
            raise CheckpointError(
                f"checkpoint {manifest_src} lists {payload.path!r} but {src} is missing"
            )
        _copy_file(fs, src, dst)
    with fs.atomic_write(join(model_dir, manifest_name(step))) as f:
        f.write(text.encode("utf-8"))
    _ensure_marker(fs, model_dir, step)
    logger.info(
        "restore copied step=%d restore_dir=%s model_dir=%s",
        step,
        restore_dir,
        model_dir,
    )
    return RestoreOutcome(step, "copied")


def wait_for_chief_restore(
    fs: FileSystem,
    model_dir: str,
    clock: Clock,
    timeout_secs: float,
    poll_secs: float = DEFAULT_POLL_SECS,
) -> None:
    """Block until the chief's marker exists in ``model_dir``.

    Raises:
        RestoreSyncError: the marker did not appear within ``timeout_secs``;
            the message names the directory and the wait.
    """
    marker = join(model_dir, PROTECTED_LIST_NAME)
    deadline = clock.monotonic() + timeout_secs
    logged = float("-inf")
    while not fs.exists(marker):
        now = clock.monotonic()
        if now >= deadline:
            raise RestoreSyncError(
                f"gave up waiting for the chief's restore: {marker} did not appear "
                f"within chief_timeout_secs={timeout_secs:g} s (is worker 0 running "
                "with the same model_dir and restore_dir?)"
            )
        if now - logged >= 60.0:
            logger.info("waiting for chief restore marker=%s", marker)
            logged = now
        clock.sleep(min(poll_secs, deadline - now))


def sync_restore(
    fs: FileSystem,
    clock: Clock,
    *,
    is_chief: bool,
    model_dir: str,
    restore_dir: str | None,
    restore_ckpt: str | None = None,
    chief_timeout_secs: float = 1800.0,
    poll_secs: float = DEFAULT_POLL_SECS,
) -> RestoreOutcome | None:
    """Run the chief's or a non-chief's side; nothing without ``restore_dir``."""
    if not restore_dir:
        return None
    if is_chief:
        return chief_restore(fs, model_dir, restore_dir, restore_ckpt)
    wait_for_chief_restore(fs, model_dir, clock, chief_timeout_secs, poll_secs)
    return None
