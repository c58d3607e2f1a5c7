"""The collective port: dense gradients averaged over the ranks of a sync job.

In sync-dense training (BEHAVIOUR.md §13.3, the original's "partial sync")
embedding tables stay on the parameter servers while every rank computes
dense gradients on its own batch; an :class:`AllReduce` averages them so that
all ranks apply the same update and keep identical dense parameters. Ranks
come from the launcher's environment (decision 7).

Errors: a peer that is gone or a collective that exceeds its timeout raises
:class:`~monolith.domain.errors.CollectiveError`.

Thread-safety: collectives are issued from one thread per rank, in the same
order on every rank.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import numpy.typing as npt

Float32Array = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]


class AllReduce(Protocol):
    """Averages and sums arrays across the ranks of a group."""

    @property
    def rank(self) -> int:
        """This process's rank, ``0 <= rank < size``."""
        ...

    @property
    def size(self) -> int:
        """The number of ranks."""
        ...

    def mean(self, arrays: Mapping[str, Float32Array]) -> dict[str, Float32Array]:
        """The element-wise mean over ranks of every array (same keys everywhere)."""
        ...

    def sum(self, values: Float64Array) -> Float64Array:
        """The element-wise sum over ranks of a small control vector."""
        ...

    def broadcast(self, arrays: Mapping[str, Float32Array]) -> dict[str, Float32Array]:
        """Rank 0's arrays, on every rank (same keys and shapes everywhere)."""
        ...

    def barrier(self) -> None:
        """Return once every rank has called it."""
        ...

    def close(self) -> None:
        """Leave the group (idempotent)."""
        ...
