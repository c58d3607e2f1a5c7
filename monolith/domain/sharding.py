"""Routing fids to parameter-server shards, and summing duplicate gradients.

Decision 8: fid ``f`` lives on PS ``f mod num_ps`` with floor modulo, so a
negative fid lands in ``[0, num_ps)`` too. A lookup splits a batch's fids by
shard, asks each shard, and scatters the rows back into the batch's order.
Before an optimizer runs, the gradients of duplicate fids are summed so each
fid is updated once.

All functions are vectorised numpy; none loops over fids in Python.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from monolith.domain.errors import UsageError

logger = logging.getLogger(__name__)

Int64Array = npt.NDArray[np.int64]

DEFAULT_CHUNK_ELEMENTS = 1 << 22


def shard_of(fids: npt.ArrayLike, num_ps: int) -> Int64Array:
    """The PS shard of every fid: ``fid mod num_ps``, always in ``[0, num_ps)``.

    Args:
        fids: int64 feature ids, any shape.
        num_ps: The number of parameter servers (>= 1).

    Returns:
        An int64 array of the same shape.

    Raises:
        UsageError: ``num_ps`` is below 1.
    """
    _check_num_ps(num_ps)
    return np.mod(_as_fids(fids), np.int64(num_ps))


def split_by_shard(fids: npt.ArrayLike, num_ps: int) -> tuple[Int64Array, ...]:
    """The positions of the fids each shard serves.

    Args:
        fids: A 1-D array of int64 feature ids.
        num_ps: The number of parameter servers (>= 1).

    Returns:
        ``num_ps`` int64 arrays; array ``i`` holds, ascending, the positions
        ``p`` with ``shard_of(fids[p]) == i``. Together they cover every
        position exactly once.

    Raises:
        UsageError: ``num_ps`` is below 1 or ``fids`` is not 1-D.
    """
    shards = shard_of(fids, num_ps)
    if shards.ndim != 1:
        raise UsageError(f"fids must be a 1-D array, got shape {shards.shape}")
    order = np.argsort(shards, kind="stable")
    counts = np.bincount(shards, minlength=num_ps)
    return tuple(np.split(order.astype(np.int64), np.cumsum(counts)[:-1]))


def scatter_from_shards(
    parts: Sequence[npt.NDArray[np.generic]],
    positions: Sequence[Int64Array],
    total: int,
) -> npt.NDArray[np.generic]:
    """Put each shard's rows back into the original order (inverse of the split).

    Args:
        parts: Per shard, the rows answering ``fids[positions[i]]``; every part
            has the same row shape and ``len(positions[i])`` rows.
        positions: The output of :func:`split_by_shard`.
        total: The number of fids that were split.

    Returns:
        An array of ``total`` rows where row ``p`` comes from the shard that
        served position ``p``.

    Raises:
        UsageError: the parts do not match the positions.
    """
    if len(parts) != len(positions) or not parts:
        raise UsageError(
            f"expected one part per shard: got {len(parts)} parts for "
            f"{len(positions)} position arrays"
        )
    row_shape = parts[0].shape[1:]
    dtype = np.result_type(*parts)
    out = np.empty((total, *row_shape), dtype=dtype)
    for shard, (part, where) in enumerate(zip(parts, positions, strict=True)):
        if part.shape != (len(where), *row_shape):
            raise UsageError(
                f"shard {shard} answered shape {part.shape}: expected "
                f"{(len(where), *row_shape)}"
            )
        out[where] = part
    return out


def dedup_sum(
    fids: npt.ArrayLike,
    grads: npt.NDArray[np.floating],
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> tuple[Int64Array, npt.NDArray[np.floating]]:
    """Sum the gradient rows of duplicate fids.

    Args:
        fids: A 1-D array of int64 feature ids.
        grads: One gradient row per fid, shape ``[len(fids), ...]``.
        chunk_elements: How many gradient elements to add per vectorised
            chunk; bounds the temporary index array (8 bytes per element).

    Returns:
        The distinct fids in ascending order, and for each the sum of its
        rows, in the dtype of ``grads``.

    Raises:
        UsageError: ``fids`` is not 1-D or the row count differs.
    """
    fids = _as_fids(fids)
    grads = np.asarray(grads)
    if fids.ndim != 1 or grads.ndim < 1 or grads.shape[0] != fids.shape[0]:
        raise UsageError(
            f"expected 1-D fids and one gradient row per fid: got fids shape "
            f"{fids.shape} and grads shape {grads.shape}"
        )
    if fids.size == 0:
        return fids.copy(), grads.copy()

    order = np.argsort(fids, kind="stable")
    sorted_fids = fids[order]
    is_first = np.empty(fids.size, dtype=bool)
    is_first[0] = True
    np.not_equal(sorted_fids[1:], sorted_fids[:-1], out=is_first[1:])
    unique = sorted_fids[is_first]
    if unique.size == fids.size:  # no duplicates: only reorder
        return unique, np.take(grads, order, axis=0)

    inverse = np.empty(fids.size, dtype=np.int64)
    inverse[order] = np.cumsum(is_first) - 1
    return unique, _segment_sum(grads, inverse, unique.size, chunk_elements)


def _segment_sum(
    grads: npt.NDArray[np.floating],
    inverse: Int64Array,
    count: int,
    chunk_elements: int,
) -> npt.NDArray[np.floating]:
    """``out[inverse[i]] += grads[i]`` through numpy's fast 1-D ``add.at`` path.

    Adding element by element with flat indices is several times faster than
    ``np.add.at`` on rows; the rows go in chunks of about ``chunk_elements``
    elements so the index array stays small (32 MB by default).
    """
    rows = grads.reshape(grads.shape[0], -1)
    width = rows.shape[1]
    out = np.zeros((count, width), dtype=grads.dtype)
    flat = out.reshape(-1)
    columns = np.arange(width, dtype=np.int64)
    chunk = max(1, chunk_elements // max(width, 1))
    for start in range(0, rows.shape[0], chunk):
        stop = start + chunk
        index = (inverse[start:stop, None] * width + columns).reshape(-1)
        np.add.at(flat, index, rows[start:stop].reshape(-1))
    return out.reshape((count, *grads.shape[1:]))


def _as_fids(fids: npt.ArrayLike) -> Int64Array:
    array = np.asarray(fids)
    if array.dtype != np.int64:
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise UsageError(f"fids must be integers, got dtype {array.dtype}")
        array = array.astype(np.int64)
    return array


def _check_num_ps(num_ps: int) -> None:
    if num_ps < 1:
        raise UsageError(f"num_ps must be >= 1 to shard fids, got {num_ps}")
