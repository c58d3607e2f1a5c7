"""Fused pooling of many ``sum``/``mean`` slots for the TensorFlow backend.

A DeepFM batch has dozens of pooled slots, each only ``[B, w]``; one
``gather`` + ``unsorted_segment_sum`` per slot costs far more in op dispatch
than in arithmetic (about 150 small ops forward and backward for 26 slots).
So the pooled slots of one row width form a :class:`PoolGroup`: on the host
their rows are concatenated, their indices shifted by each slot's row offset
and their segment ids laid out example-major (``example * S + k`` for the
``k``-th slot of the group). In the graph one gather and one segment sum pool
the whole group into a ``[B, S, w]`` grid, and the gradient of the group is
one ``[sum U, w]`` tensor (a hand-written gradient: gather by segment, sum by
row), split per slot back on the host as views.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from monolith.domain.errors import ComputeError
from monolith.domain.tower_plan import SlotPlan
from monolith.ports.compute import SlotInput

logger = logging.getLogger(__name__)

Tensor: TypeAlias = Any
"""``tf.Tensor`` (TensorFlow ships no type information mypy can use)."""
Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]


@attrs.frozen
class PoolGroup:
    """Pooled (``sum``/``mean``) slots sharing one row width, in plan order.

    Attributes:
        width: Row width of every slot of the group.
        names: Slot names, in the order their rows are concatenated.
        means: Per slot, whether it is mean-pooled.
    """

    width: int
    names: tuple[str, ...]
    means: tuple[bool, ...]

    @property
    def has_mean(self) -> bool:
        """Whether the group carries a per-segment scale input."""
        return any(self.means)

    @property
    def arity(self) -> int:
        """How many flat input tensors the group takes."""
        return 4 if self.has_mean else 3


@attrs.frozen
class PackedGroup:
    """Host arrays of one group for one batch, plus each slot's row count."""

    arrays: tuple[npt.NDArray[Any], ...]
    row_counts: tuple[int, ...]


def plan_pool_groups(slots: Sequence[SlotPlan]) -> tuple[PoolGroup, ...]:
    """Group the pooled slots by width, groups ordered by first appearance."""
    by_width: dict[int, list[SlotPlan]] = {}
    for slot in slots:
        if slot.pooling != "sequence":
            by_width.setdefault(slot.width, []).append(slot)
    return tuple(
        PoolGroup(
            width=width,
            names=tuple(s.name for s in members),
            means=tuple(s.pooling == "mean" for s in members),
        )
        for width, members in by_width.items()
    )


def group_signature(group: PoolGroup) -> list[tf.TensorSpec]:
    """The ``tf.function`` input specs of a group (``None`` ragged sizes)."""
    specs = [
        tf.TensorSpec([None, group.width], tf.float32),
        tf.TensorSpec([None], tf.int64),
        tf.TensorSpec([None], tf.int64),
    ]
    if group.has_mean:
        specs.append(tf.TensorSpec([None], tf.float32))
    return specs


def pack_group(
    group: PoolGroup, slots: Mapping[str, SlotInput], batch: int
) -> PackedGroup:
    """Concatenate a group's rows, shifted indices and slot-major segment ids.

    Raises:
        ComputeError: a slot's rows, index or row_splits do not fit the batch.
    """
    rows: list[Float32Array] = []
    index: list[Int64Array] = []
    segments: list[Int64Array] = []
    scales: list[Float32Array] = []
    counts: list[int] = []
    examples = np.arange(batch, dtype=np.int64)
    size = len(group.names)
    offset = 0
    for k, (name, mean) in enumerate(zip(group.names, group.means, strict=True)):
        slot = slots[name]
        slot_rows = np.asarray(slot.rows, dtype=np.float32)
        if slot_rows.ndim != 2 or slot_rows.shape[1] != group.width:
            raise ComputeError(
                f"slot {name!r} rows have shape {slot_rows.shape}, "
                f"expected [U, {group.width}]"
            )
        slot_index = np.asarray(slot.index, dtype=np.int64).reshape(-1)
        lengths = _lengths(name, slot.row_splits, batch, slot_index.shape[0])
        unique = slot_rows.shape[0]
        if slot_index.size and (
            int(slot_index.min()) < 0 or int(slot_index.max()) >= unique
        ):
            raise ComputeError(
                f"slot {name!r} index has values outside [0, {unique}): each "
                "fid occurrence must point at one of the slot's rows"
            )
        rows.append(slot_rows)
        index.append(slot_index + offset if offset else slot_index)
        base = examples * size + k
        if slot_index.shape[0] == batch and bool(np.all(lengths == 1)):
            segments.append(base)
        else:
            segments.append(np.repeat(base, lengths))
        if group.has_mean:
            if mean:
                scales.append(1.0 / np.maximum(lengths, 1).astype(np.float32))
            else:
                scales.append(np.ones(batch, dtype=np.float32))
        counts.append(unique)
        offset += unique
    arrays: list[npt.NDArray[Any]] = [
        _concat(rows, np.float32, (0, group.width)),
        _concat(index, np.int64, (0,)),
        _concat(segments, np.int64, (0,)),
    ]
    if group.has_mean:
        # example-major like the segments: scale[example * S + k]
        arrays.append(np.stack(scales, axis=1).reshape(-1))
    return PackedGroup(tuple(arrays), tuple(counts))


def pool_group(group: PoolGroup, inputs: Sequence[Tensor], batch: Tensor) -> Tensor:
    """Pool a packed group in the graph into its ``[B, S, w]`` grid."""
    rows, index, segments = inputs[0], inputs[1], inputs[2]
    size = len(group.names)
    pooled = _gather_sum(rows, index, segments, tf.cast(batch, tf.int64) * size)
    if group.has_mean:
        pooled = pooled * inputs[3][:, None]
    return tf.reshape(pooled, tf.stack([batch, size, group.width]))


def grid_features(group: PoolGroup, grid: Tensor) -> dict[str, Tensor]:
    """Each slot's pooled ``[B, w]`` tensor, by name."""
    slices = tf.unstack(grid, num=len(group.names), axis=1)
    return dict(zip(group.names, slices, strict=True))


@tf.custom_gradient  # type: ignore[untyped-decorator]
def _gather_sum(
    rows: Tensor, index: Tensor, segments: Tensor, num_segments: Tensor
) -> tuple[Tensor, Any]:
    """``unsorted_segment_sum(gather(rows, index), segments)`` whose gradient
    is the dense per-row sum, without the ``IndexedSlices`` detour."""
    pooled = tf.math.unsorted_segment_sum(
        tf.gather(rows, index), segments, num_segments
    )

    def grad(upstream: Tensor) -> tuple[Tensor, None, None, None]:
        per_occurrence = tf.gather(upstream, segments)
        total = tf.shape(rows, out_type=tf.int64)[0]
        return (
            tf.math.unsorted_segment_sum(per_occurrence, index, total),
            None,
            None,
            None,
        )

    return pooled, grad


def split_rows(grad: Float32Array, counts: Sequence[int]) -> list[Float32Array]:
    """A group's ``[sum U, w]`` gradient as one view per slot."""
    if len(counts) == 1:
        return [grad]
    return list(np.split(grad, np.cumsum(counts[:-1]), axis=0))


def _lengths(
    name: str, row_splits: npt.ArrayLike, batch: int, occurrences: int
) -> Int64Array:
    splits = np.asarray(row_splits, dtype=np.int64).reshape(-1)
    if splits.shape[0] != batch + 1 or splits[0] != 0 or splits[-1] != occurrences:
        raise ComputeError(
            f"slot {name!r} row_splits must have {batch + 1} entries from 0 to "
            f"the {occurrences} index entries; got {splits.shape[0]} entries "
            f"from {splits[0] if splits.size else None} to "
            f"{splits[-1] if splits.size else None}"
        )
    lengths = np.diff(splits)
    if lengths.size and int(lengths.min()) < 0:
        raise ComputeError(f"slot {name!r} row_splits must not decrease")
    return lengths


def _concat(
    parts: list[npt.NDArray[Any]], dtype: type[np.generic], empty: tuple[int, ...]
) -> npt.NDArray[Any]:
    if not parts:
        return np.zeros(empty, dtype=dtype)
    if len(parts) == 1:
        return np.ascontiguousarray(parts[0], dtype=dtype)
    return np.concatenate(parts, axis=0).astype(dtype, copy=False)
