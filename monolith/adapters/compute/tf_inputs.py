"""The flat host inputs of the TensorFlow tower, and per-slot gradients back.

A built tower takes one flat list of arrays: each pool group's packed arrays
(:func:`~monolith.adapters.compute.tf_pooling.pack_group`), then five per
sequence slot (rows, index, and the padded layout's source, target and mask),
then the dense features. :class:`FlatLayout` builds that list from
:class:`~monolith.ports.compute.TowerInputs`, gives its ``tf.function``
signature and where the row tensors sit, and splits the gradients of those
row tensors back per slot.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from monolith.adapters.compute.tf_pooling import (
    PoolGroup,
    group_signature,
    pack_group,
    plan_pool_groups,
    split_rows,
)
from monolith.domain.errors import ComputeError
from monolith.domain.model_spec import ModelSpec
from monolith.domain.sequence_layout import layout_sequence
from monolith.domain.tower_plan import SlotPlan
from monolith.ports.compute import TowerInputs

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]
SEQUENCE_ARITY = 5
"""Flat inputs per sequence slot: rows, index, source, target, mask."""


class FlatLayout:
    """How a model's slots are laid out as the tower's flat inputs."""

    def __init__(self, slots: tuple[SlotPlan, ...]) -> None:
        self.slots = slots
        self.groups: tuple[PoolGroup, ...] = plan_pool_groups(slots)
        self.sequences = tuple(s for s in slots if s.pooling == "sequence")

    def flatten(
        self, inputs: TowerInputs
    ) -> tuple[list[npt.NDArray[Any]], list[tuple[int, ...]]]:
        """The flat inputs (groups, then sequence slots, then dense) and each
        group's per-slot row counts.

        Raises:
            ComputeError: a slot is missing or its arrays do not fit.
        """
        missing = [s.name for s in self.slots if s.name not in inputs.slots]
        if missing:
            raise ComputeError(
                f"inputs lack slot {missing[0]!r}; the model reads slots "
                f"{', '.join(s.name for s in self.slots)}"
            )
        dense = np.asarray(inputs.dense, dtype=np.float32)
        batch = int(dense.shape[0])
        flat: list[npt.NDArray[Any]] = []
        counts: list[tuple[int, ...]] = []
        for group in self.groups:
            packed = pack_group(group, inputs.slots, batch)
            flat.extend(packed.arrays)
            counts.append(packed.row_counts)
        for slot in self.sequences:
            slot_input = inputs.slots[slot.name]
            rows = np.asarray(slot_input.rows, dtype=np.float32)
            if rows.ndim != 2 or rows.shape[1] != slot.width:
                raise ComputeError(
                    f"slot {slot.name!r} rows have shape {rows.shape}, "
                    f"expected [U, {slot.width}]"
                )
            layout = layout_sequence(slot_input.row_splits, slot.max_len)
            flat.append(rows)
            flat.append(np.asarray(slot_input.index, dtype=np.int64))
            flat.extend([layout.source, layout.target, layout.mask])
        flat.append(dense)
        return flat, counts

    def slot_grads(
        self, row_grads: list[Float32Array], counts: list[tuple[int, ...]]
    ) -> dict[str, Float32Array]:
        """Per-slot gradients, in plan order, from the groups' and sequences'."""
        by_name: dict[str, Float32Array] = {}
        for group, grad, sizes in zip(self.groups, row_grads, counts, strict=False):
            by_name.update(zip(group.names, split_rows(grad, sizes), strict=True))
        tail = row_grads[len(self.groups) :]
        by_name.update(
            (slot.name, grad) for slot, grad in zip(self.sequences, tail, strict=True)
        )
        return {slot.name: by_name[slot.name] for slot in self.slots}

    def signature(self, spec: ModelSpec) -> list[tf.TensorSpec]:
        """The ``tf.function`` input specs (``None`` batch and ragged sizes)."""
        specs: list[tf.TensorSpec] = []
        for group in self.groups:
            specs.extend(group_signature(group))
        for slot in self.sequences:
            specs.append(tf.TensorSpec([None, slot.width], tf.float32))
            specs.append(tf.TensorSpec([None], tf.int64))
            specs.append(tf.TensorSpec([None], tf.int64))
            specs.append(tf.TensorSpec([None], tf.int64))
            specs.append(tf.TensorSpec([None, slot.max_len], tf.float32))
        specs.append(tf.TensorSpec([None, spec.dense_features], tf.float32))
        return specs

    def row_positions(self) -> list[int]:
        """Where the row tensors sit in the flat inputs."""
        positions = []
        pos = 0
        for group in self.groups:
            positions.append(pos)
            pos += group.arity
        for _ in self.sequences:
            positions.append(pos)
            pos += SEQUENCE_ARITY
        return positions
