"""Row moves and duplicate handling for the table's row-aligned arrays.

Fancy indexing (``a[rows]``, ``a[rows] = b``) is the slow path in numpy:
``np.take`` gathers rows several times faster, and ``np.put`` on a view that
treats each row as one opaque element scatters whole rows at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monolith.domain.sharding import dedup_sum

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]


def _rows_view(array: npt.NDArray[np.generic]) -> npt.NDArray[np.void]:
    """A C-contiguous 2-D array seen as 1-D, one opaque element per row."""
    return array.view(np.dtype((np.void, array.shape[1] * array.itemsize))).reshape(-1)


def gather_rows(array: npt.NDArray[np.float32], rows: Int64Array) -> Float32Array:
    """``array[rows]``; ``np.take`` is several times faster than fancy indexing."""
    return np.take(array, rows, axis=0)


def scatter_rows(
    array: npt.NDArray[np.float32], rows: Int64Array, block: npt.ArrayLike
) -> None:
    """``array[rows] = block`` for distinct rows, copying whole rows at once."""
    if array.shape[1] == 0:
        return
    data = np.ascontiguousarray(block, dtype=array.dtype)
    np.put(_rows_view(array), rows, _rows_view(data))


_SALTS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9)


def has_duplicates(values: Int64Array) -> bool:
    """Whether ``values`` holds some value twice, in O(n) (no sort).

    Each round scatters positions into a scratch table of twice the size by a
    hash of the value; a position whose slot was taken by an equal value is a
    duplicate; one whose slot went to a different value tries again in the
    next round with another hash. Equal values always share a slot, so a
    duplicate either shows up or both copies go on together. After a few
    rounds the leftovers (if any) are settled by a sort.
    """
    count = values.shape[0]
    if count < 2:
        return False
    bits = max(int(count - 1).bit_length() + 1, 4)
    scratch = np.empty(1 << bits, dtype=np.int64)
    candidates = np.arange(count)
    shift = np.uint64(64 - bits)
    for salt in _SALTS:
        slot = ((values[candidates].view(np.uint64) * np.uint64(salt)) >> shift).view(
            np.int64
        )
        scratch[slot] = candidates
        winner = scratch[slot]
        lost = winner != candidates
        if not lost.any():
            return False
        if (values[winner[lost]] == values[candidates[lost]]).any():
            return True
        candidates = candidates[lost]
    rest = np.sort(values[candidates])
    return bool((rest[1:] == rest[:-1]).any())


def strictly_increasing(values: Int64Array) -> bool:
    """Whether each value is above the one before (so none repeats): O(n)."""
    return values.shape[0] < 2 or bool(np.all(values[1:] > values[:-1]))


def as_block(rows: Int64Array) -> slice | None:
    """``rows`` as the slice it spells when it is ``first, first + 1, ...``
    (the new rows of a growing table), else None; O(1) when it is not."""
    count = rows.shape[0]
    if count == 0 or int(rows[-1]) - int(rows[0]) + 1 != count:
        return None
    if count > 1 and not strictly_increasing(rows):
        return None
    return slice(int(rows[0]), int(rows[0]) + count)


def sum_by_row(
    rows: Int64Array, grads: Float32Array
) -> tuple[Int64Array, Float32Array]:
    """Distinct rows with the sum of their gradients (input order if distinct)."""
    if not has_duplicates(rows):
        return rows, grads
    return dedup_sum(rows, grads)
