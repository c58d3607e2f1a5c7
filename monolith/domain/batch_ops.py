"""Concatenating and slicing :class:`~monolith.domain.batch.Batch` values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.errors import UsageError


def slice_ragged(ragged: RaggedFids, start: int, stop: int) -> RaggedFids:
    """Rows ``start:stop`` of ``ragged`` (values are a view, splits rebased)."""
    splits = ragged.row_splits[start : stop + 1]
    base = int(splits[0]) if splits.size else 0
    end = int(splits[-1]) if splits.size else 0
    return RaggedFids(ragged.values[base:end], splits - base)


def concat_ragged(parts: Sequence[RaggedFids]) -> RaggedFids:
    """Rows of every part, in order."""
    if len(parts) == 1:
        return parts[0]
    values = np.concatenate([p.values for p in parts])
    splits = [np.zeros(1, dtype=np.int64)]
    offset = 0
    for part in parts:
        splits.append(part.row_splits[1:] + offset)
        offset += int(part.row_splits[-1])
    return RaggedFids(values, np.concatenate(splits))


def slice_batch(batch: Batch, start: int, stop: int) -> Batch:
    """Examples ``start:stop`` of ``batch``."""
    return Batch(
        sparse={k: slice_ragged(v, start, stop) for k, v in batch.sparse.items()},
        dense=batch.dense[start:stop],
        label=batch.label[start:stop],
    )


def concat_batches(batches: Sequence[Batch]) -> Batch:
    """One batch holding every example of ``batches`` in order.

    Raises:
        UsageError: if the list is empty or the batches have different slots.
    """
    if not batches:
        raise UsageError("cannot concatenate an empty list of batches")
    if len(batches) == 1:
        return batches[0]
    names = list(batches[0].sparse)
    for other in batches[1:]:
        if list(other.sparse) != names:
            raise UsageError(
                f"batches have different slots: {names!r} and {list(other.sparse)!r}"
            )
    return Batch(
        sparse={n: concat_ragged([b.sparse[n] for b in batches]) for n in names},
        dense=np.concatenate([b.dense for b in batches]),
        label=np.concatenate([b.label for b in batches]),
    )
