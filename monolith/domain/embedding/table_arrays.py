"""A table's rows as plain arrays: what snapshots write and restores read."""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]
UInt32Array = npt.NDArray[np.uint32]


@attrs.frozen(eq=False)
class TableArrays:
    """A table's rows as plain arrays, aligned by row (what a snapshot stores)."""

    keys: Int64Array
    values: Float32Array
    state: Float32Array
    timestamps: UInt32Array


@attrs.frozen(eq=False)
class TableViews:
    """A table's rows beside its hash-index slot array (keys live in the slots).

    What a snapshot writes when no row expired (``rows`` rows of values,
    state and timestamps, and the ``[2**bits, 2]`` slots they are aligned
    with; the views alias the table: write them before its next update), and
    what :meth:`EmbeddingTable.adopt` takes back on restore.
    """

    rows: int
    values: Float32Array
    state: Float32Array
    timestamps: UInt32Array
    slots: Int64Array
