"""The training batch that flows from the input pipeline to the worker.

A batch holds, per sparse slot, a ragged list of int64 fids (``values`` plus
``row_splits``, the layout of ``tf.RaggedTensor``), a dense float32 matrix and
a float32 label vector. Every array is numpy; no framework type crosses here.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]


@attrs.frozen
class RaggedFids:
    """Variable-length fid lists for a batch: row ``i`` is ``values[s[i]:s[i+1]]``."""

    values: Int64Array
    row_splits: Int64Array

    @property
    def batch_size(self) -> int:
        return int(self.row_splits.shape[0]) - 1

    def row(self, i: int) -> Int64Array:
        return self.values[int(self.row_splits[i]) : int(self.row_splits[i + 1])]

    @classmethod
    def from_lists(cls, rows: list[list[int]]) -> RaggedFids:
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        splits = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=splits[1:])
        flat = [v for r in rows for v in r]
        return cls(np.asarray(flat, dtype=np.int64), splits)


@attrs.frozen
class Batch:
    """One batch: sparse slots, dense features ``[B, n]`` and labels ``[B]``."""

    sparse: Mapping[str, RaggedFids]
    dense: Float32Array
    label: Float32Array

    @property
    def size(self) -> int:
        return int(self.label.shape[0])
