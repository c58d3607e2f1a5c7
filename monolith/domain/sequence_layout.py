"""Where each fid of a ragged sequence slot lands in its padded ``[B, L]`` grid.

Computed once per batch in numpy and shared by both compute backends, so the
padding rule is identical everywhere: fids keep their order, are left-aligned,
and a sequence longer than ``max_len`` keeps its last ``max_len`` fids.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]


@attrs.frozen
class SequenceLayout:
    """Gather/scatter indices that pad one ragged slot.

    Attributes:
        source: ``[K]`` positions into the slot's ``index`` array that are kept.
        target: ``[K]`` flat positions ``b * max_len + t`` they are written to.
        mask: ``[B, max_len]`` float32, 1 where a fid was written.
    """

    source: Int64Array
    target: Int64Array
    mask: Float32Array


def layout_sequence(row_splits: Int64Array, max_len: int) -> SequenceLayout:
    """The padding of a slot with ``row_splits`` (``[B+1]``) into ``max_len``."""
    splits = np.asarray(row_splits, dtype=np.int64)
    batch = int(splits.shape[0]) - 1
    lengths = np.diff(splits)
    total = int(splits[-1]) if batch >= 0 and splits.size else 0
    example = np.repeat(np.arange(batch, dtype=np.int64), lengths)
    start = splits[:-1] + np.maximum(lengths - max_len, 0)
    occurrence = np.arange(total, dtype=np.int64)
    keep = occurrence >= start[example]
    source = occurrence[keep]
    position = source - start[example[keep]]
    target = example[keep] * max_len + position
    mask = np.zeros(batch * max_len, dtype=np.float32)
    mask[target] = 1.0
    return SequenceLayout(source, target, mask.reshape(batch, max_len))
