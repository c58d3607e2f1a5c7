"""Which checkpoint is the latest, and which to delete after a save.

Decisions 1 and 2: a checkpoint is ``checkpoint-<step>.json`` plus
``checkpoint-<step>.data/``; "latest" is the highest step among manifests that
verify, compared as integers. Retention keeps the newest ``max_to_keep``
unprotected checkpoints (0 keeps all); protected ones are never deleted and do
not count; the newest checkpoint is never deleted. Deletion removes the
manifest first, so a half-deleted checkpoint is never mistaken for a valid one.

Everything here is pure: the caller lists the directory, verifies manifests
and carries out the returned deletions through the storage port.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Iterable

import attrs

from monolith.domain.checkpoint import (
    manifest_name,
    parse_manifest_name,
    payload_dir_name,
)
from monolith.domain.errors import CheckpointError, ConfigError, NoCheckpointError
from monolith.domain.paths import join

logger = logging.getLogger(__name__)

PROTECTED_LIST_NAME = "monolith_checkpoint.json"


@attrs.frozen
class CheckpointRecord:
    """One manifest found in a model directory and whether it verified."""

    step: int
    valid: bool = True


class DeleteKind(enum.Enum):
    """What a deletion removes: one file, or a directory and its contents."""

    FILE = "file"
    TREE = "tree"


@attrs.frozen
class DeleteAction:
    """One removal the caller performs, in the order given."""

    path: str
    kind: DeleteKind
    step: int


@attrs.frozen
class RetentionPlan:
    """The outcome of :func:`plan_retention`; steps are in ascending order."""

    delete: tuple[int, ...]
    keep: tuple[int, ...]
    protected: tuple[int, ...]

    def actions(self, model_dir: str) -> tuple[DeleteAction, ...]:
        """The removals for :attr:`delete`, oldest checkpoint first.

        Args:
            model_dir: The directory holding the checkpoints.

        Returns:
            For each step, its manifest (a file) and then its payload
            directory (a tree).
        """
        return tuple(
            action
            for step in self.delete
            for action in deletion_actions(model_dir, step)
        )


def checkpoint_steps(names: Iterable[str]) -> tuple[int, ...]:
    """The steps of the manifests in a directory listing, ascending.

    Args:
        names: Base names of the entries of a model directory.

    Returns:
        Each ``checkpoint-<step>.json`` step once, sorted as integers (so 9
        comes before 10); other names are ignored.
    """
    steps = {step for step in map(parse_manifest_name, names) if step is not None}
    return tuple(sorted(steps))


def latest_valid(records: Iterable[CheckpointRecord], directory: str) -> int:
    """The highest step among valid checkpoints.

    Args:
        records: Every manifest found in ``directory``.
        directory: The model directory, named in the error.

    Returns:
        The step of the latest valid checkpoint.

    Raises:
        NoCheckpointError: ``directory`` holds no valid checkpoint.
    """
    records = list(records)
    valid = [r.step for r in records if r.valid]
    if valid:
        return max(valid)
    invalid = sorted(r.step for r in records if not r.valid)
    detail = (
        f" ({len(invalid)} failed verification: steps {invalid})" if invalid else ""
    )
    raise NoCheckpointError(
        f"no valid checkpoint in {directory!r}{detail}: expected a "
        "checkpoint-<step>.json manifest whose payload files verify"
    )


def plan_retention(
    records: Iterable[CheckpointRecord],
    max_to_keep: int,
    protected: Iterable[int] = (),
) -> RetentionPlan:
    """Decide which checkpoints to delete after a save.

    Args:
        records: Every manifest in the model directory. Invalid ones are
            neither counted nor deleted (they stay for inspection).
        max_to_keep: How many unprotected checkpoints to keep; 0 keeps all.
        protected: Steps that are never deleted and do not count (a restored
            checkpoint, those listed in ``monolith_checkpoint.json``).

    Returns:
        The steps to delete, oldest first, and the steps kept.

    Raises:
        ConfigError: ``max_to_keep`` is negative.
        CheckpointError: a step appears twice in ``records``.
    """
    if max_to_keep < 0:
        raise ConfigError(
            f"max_to_keep must be >= 0 (0 keeps every checkpoint), got {max_to_keep}"
        )
    valid = _valid_steps(records)
    protected_set = set(protected)
    kept_protected = tuple(s for s in valid if s in protected_set)
    unprotected = [s for s in valid if s not in protected_set]

    if max_to_keep == 0 or len(unprotected) <= max_to_keep:
        delete: tuple[int, ...] = ()
    else:
        delete = tuple(unprotected[: len(unprotected) - max_to_keep])
    # The newest checkpoint survives by construction: if it is unprotected it
    # is among the newest ``max_to_keep >= 1``; if protected it is never listed.
    keep = tuple(s for s in valid if s not in delete)
    return RetentionPlan(delete=delete, keep=keep, protected=kept_protected)


def deletion_actions(model_dir: str, step: int) -> tuple[DeleteAction, ...]:
    """How to delete one checkpoint: the manifest first, then its payload.

    Args:
        model_dir: The directory holding the checkpoint.
        step: The checkpoint's step.

    Returns:
        Two actions; once the first is done the checkpoint no longer exists.
    """
    return (
        DeleteAction(join(model_dir, manifest_name(step)), DeleteKind.FILE, step),
        DeleteAction(join(model_dir, payload_dir_name(step)), DeleteKind.TREE, step),
    )


def parse_protected_list(
    text: str, source: str = PROTECTED_LIST_NAME
) -> frozenset[int]:
    """The protected steps recorded in a ``monolith_checkpoint.json``.

    Args:
        text: The file's content: ``{"protected_steps": [30, 61]}``.
        source: Where the text came from, named in errors.

    Returns:
        The protected steps.

    Raises:
        CheckpointError: the text is not that JSON shape.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CheckpointError(f"protected list {source} is not JSON: {exc}") from exc
    steps = data.get("protected_steps") if isinstance(data, dict) else None
    if not isinstance(steps, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in steps
    ):
        raise CheckpointError(
            f"protected list {source} must be an object with 'protected_steps', "
            f"a list of non-negative integers; got {text[:200]!r}"
        )
    return frozenset(steps)


def render_protected_list(steps: Iterable[int]) -> str:
    """The ``monolith_checkpoint.json`` content protecting ``steps``."""
    return json.dumps({"protected_steps": sorted(set(steps))}, sort_keys=True)


def _valid_steps(records: Iterable[CheckpointRecord]) -> list[int]:
    seen: set[int] = set()
    valid: list[int] = []
    for record in records:
        if record.step in seen:
            raise CheckpointError(
                f"checkpoint step {record.step} is listed twice: expected one "
                "manifest per step"
            )
        seen.add(record.step)
        if record.valid:
            valid.append(record.step)
    return sorted(valid)
