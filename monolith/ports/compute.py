"""The compute port: the dense tower on PyTorch or TensorFlow.

The worker looks up the unique fids of each slot, and hands the backend, per
slot, those rows plus an index from every fid occurrence to its row and the
batch's ``row_splits``. The backend pools (``sum``/``mean``) or pads
(``sequence``) them itself, so the gradient it returns for a slot is already
summed per unique row: ``slot_grads[slot]`` has the shape of
``inputs.slots[slot].rows``.

Determinism: ``build`` with the same spec (and ``spec.seed``) gives the same
initial parameters. State round trip: ``load_state(state())`` gives identical
predictions.

Errors: :class:`~monolith.domain.errors.ComputeError` for an unknown tower
kind, a shape mismatch, or state that does not fit the model.
Thread-safety: a backend instance is used by one thread at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain.model_spec import ModelSpec

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]


@attrs.frozen
class SlotInput:
    """The embeddings of one slot for a batch.

    Attributes:
        rows: ``[U, width]`` float32, one row per unique fid of the slot.
        index: ``[N]`` int64, for each fid occurrence the row it reads.
        row_splits: ``[B+1]`` int64; example ``i`` owns ``index[s[i]:s[i+1]]``.
    """

    rows: Float32Array
    index: Int64Array
    row_splits: Int64Array


@attrs.frozen
class TowerInputs:
    """All inputs of the dense tower for one batch."""

    slots: Mapping[str, SlotInput]
    dense: Float32Array

    @property
    def batch_size(self) -> int:
        return int(self.dense.shape[0])


@attrs.frozen
class StepResult:
    """What one forward and backward pass produces."""

    loss: float
    predictions: Float32Array
    dense_grads: dict[str, Float32Array]
    slot_grads: dict[str, Float32Array]


class ComputeBackend(Protocol):
    """Builds and runs a dense tower."""

    name: str

    def build(self, spec: ModelSpec) -> None:
        """Create the tower and its dense optimizer from ``spec``."""
        ...

    def predict(self, inputs: TowerInputs) -> Float32Array:
        """Scores ``[B]``: probabilities for ``bce``, values for ``mse``."""
        ...

    def compute_gradients(
        self, inputs: TowerInputs, labels: Float32Array
    ) -> StepResult:
        """Forward, loss and backward; parameters are not changed."""
        ...

    def apply_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        """One step of the dense optimizer with ``grads`` (e.g. all-reduced)."""
        ...

    def parameters(self) -> dict[str, Float32Array]:
        """Dense parameters by stable name (copies)."""
        ...

    def load_parameters(self, params: Mapping[str, Float32Array]) -> None:
        """Overwrite dense parameters (shapes must match)."""
        ...

    def state(self) -> dict[str, Float32Array]:
        """Parameters plus optimizer state, for checkpoints."""
        ...

    def load_state(self, state: Mapping[str, Float32Array]) -> None:
        """Restore what :meth:`state` returned."""
        ...
