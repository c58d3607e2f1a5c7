"""Values that cross the serving boundary, and the checks a request must pass.

A :class:`PredictRequest` carries, for a batch of ``B`` examples, the fids of
each slot as a ragged list (``values`` plus ``row_splits``) and a dense
``[B, n]`` matrix. :func:`validate_request` checks it against the served
model and the server's limits; every failure is a
:class:`~monolith.domain.errors.UsageError` whose message starts with the
field at fault, so a gRPC adapter can answer INVALID_ARGUMENT with it.

An :class:`EmbeddingDelta` is what real-time training pushes: for each table
the rows touched since the previous push, stamped with the trainer's store
version. :func:`delta_is_newer` decides whether a delta still applies.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain.batch import RaggedFids
from monolith.domain.errors import UsageError

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]

DEFAULT_MAX_BATCH = 4096
DEFAULT_MAX_FIDS = 1_000_000
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@attrs.frozen
class RequestLimits:
    """Per-request bounds the server enforces."""

    max_batch: int = DEFAULT_MAX_BATCH
    max_fids: int = DEFAULT_MAX_FIDS


@attrs.frozen
class PredictRequest:
    """Fids per slot and dense features for ``batch_size`` examples."""

    slots: Mapping[str, RaggedFids]
    dense: Float32Array
    batch_size: int


@attrs.frozen
class PredictResult:
    """Scores ``[B]`` and the model version that computed them."""

    scores: Float32Array
    model_version: int


@attrs.frozen
class TableDelta:
    """New rows of one table: ``fids[i]`` now holds ``rows[i]``."""

    table: str
    fids: Int64Array
    rows: Float32Array


@attrs.frozen
class EmbeddingDelta:
    """Rows touched on a trainer since its last push, at store ``version``.

    Attributes:
        source: Identifies the trainer (versions are compared per source).
        version: The trainer's store version the rows were read at.
        tables: One entry per table with changes.
        created_at: Wall time (seconds) when the trainer read the rows.
    """

    source: str
    version: int
    tables: tuple[TableDelta, ...]
    created_at: float


@attrs.frozen
class DeltaOutcome:
    """Which tables of a delta were applied and which were stale."""

    applied: tuple[str, ...]
    ignored: tuple[str, ...]
    model_version: int


def delta_is_newer(last_applied: int | None, version: int) -> bool:
    """Whether a delta at ``version`` applies after ``last_applied`` (None = none yet).

    Replays (equal version) and out-of-order deltas (older version) do not.
    """
    return last_applied is None or version > last_applied


def validate_ragged(field: str, fids: RaggedFids, batch_size: int) -> None:
    """Check one slot's ragged fids for a batch of ``batch_size``.

    Raises:
        UsageError: naming ``field`` when row_splits do not describe the values.
    """
    splits = fids.row_splits
    if splits.shape[0] != batch_size + 1:
        raise UsageError(
            f"{field}.row_splits must have batch_size + 1 = {batch_size + 1} "
            f"entries, got {splits.shape[0]}"
        )
    first, last = int(splits[0]), int(splits[-1])
    if first != 0:
        raise UsageError(f"{field}.row_splits must start at 0, got {first}")
    if last != fids.values.shape[0]:
        raise UsageError(
            f"{field}.row_splits must end at len(values) = {fids.values.shape[0]}, "
            f"got {last}"
        )
    if batch_size > 1 and bool((splits[1:] < splits[:-1]).any()):
        raise UsageError(f"{field}.row_splits must be non-decreasing")


def validate_request(
    request: PredictRequest,
    slot_names: tuple[str, ...],
    dense_width: int,
    limits: RequestLimits,
) -> None:
    """Check a request against the served model's slots and dense width.

    Raises:
        UsageError: the message starts with the offending field
            (``batch_size``, ``slots``, ``slots[<name>].row_splits``, ``dense``).
    """
    b = request.batch_size
    if b <= 0:
        raise UsageError(f"batch_size must be positive, got {b}")
    if b > limits.max_batch:
        raise UsageError(
            f"batch_size {b} exceeds the server's limit of {limits.max_batch}"
        )
    if len(request.slots) != len(slot_names) or any(
        name not in request.slots for name in slot_names
    ):
        missing = sorted(set(slot_names) - set(request.slots))
        unknown = sorted(set(request.slots) - set(slot_names))
        problem = (
            f"is missing {', '.join(missing)}"
            if missing
            else f"has unknown {', '.join(unknown)}"
        )
        raise UsageError(f"slots {problem}; the model reads {', '.join(slot_names)}")
    total = 0
    for name in slot_names:
        fids = request.slots[name]
        validate_ragged(f"slots[{name}]", fids, b)
        total += int(fids.values.shape[0])
    if total > limits.max_fids:
        raise UsageError(
            f"slots hold {total} fids, more than the server's limit of "
            f"{limits.max_fids}"
        )
    expected = b * dense_width
    if request.dense.size != expected:
        raise UsageError(
            f"dense must hold batch_size x {dense_width} = {expected} floats, "
            f"got {request.dense.size}"
        )
    if not np.isfinite(request.dense.sum()) and not np.isfinite(request.dense).all():
        raise UsageError("dense must hold finite floats, found NaN or infinity")
