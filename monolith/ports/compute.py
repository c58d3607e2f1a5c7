"""The compute port: the dense tower on PyTorch or TensorFlow.

The worker looks up the unique fids of each slot, and hands the backend, per
slot, those rows plus an index from every fid occurrence to its row and the
batch's ``row_splits``. The backend pools (``sum``/``mean``) or pads
(``sequence``, see :mod:`monolith.domain.sequence_layout`) them itself, so the
gradient it returns for a slot is already summed per unique row:
``slot_grads[slot]`` has the shape of ``inputs.slots[slot].rows``. A backend
never holds embedding tables.

Built-in towers (``mlp``, ``deepfm``, ``din``, ``dien``) follow
:mod:`monolith.domain.tower_plan`: parameter names and shapes come from
there and initial values from :mod:`monolith.domain.tower_init`, so every
backend starts from the same weights, and the same weights give the same
predictions (within 1e-5). Dense optimizers follow
:mod:`monolith.domain.dense_optimizer`, whose state keys are shared too: a
``state()`` of one backend loads into another.

Determinism: ``build`` with the same spec (and ``spec.seed``) gives the same
initial parameters, and the same inputs give the same results. State round
trip: ``load_state(state())`` gives identical predictions and updates.

Errors: :class:`~monolith.domain.errors.ComputeError` for an unknown tower
kind or a bad spec (at ``build``), use before ``build``, a missing slot or a
row width mismatch in the inputs, and parameters or state that do not fit
the model (missing or unexpected names, wrong shapes). The backend does not
check the loss for NaN; the training loop does.
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
        """Create the tower and its dense optimizer from ``spec``.

        Building again replaces the tower, its parameters and optimizer state.
        """
        ...

    def predict(self, inputs: TowerInputs) -> Float32Array:
        """Scores ``[B]``: probabilities for ``bce``, values for ``mse``."""
        ...

    def compute_gradients(
        self, inputs: TowerInputs, labels: Float32Array
    ) -> StepResult:
        """Forward, mean loss over the batch and backward.

        Parameters and optimizer state are not changed. ``labels`` is ``[B]``
        (0/1 for ``bce``, targets for ``mse``). ``dense_grads`` has one entry
        per :meth:`parameters` name; ``slot_grads`` one per slot.
        """
        ...

    def apply_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        """One step of the dense optimizer with ``grads`` (e.g. all-reduced).

        ``grads`` must hold every parameter name; clipping to
        ``spec.dense_optimizer.clip_norm`` (global norm) happens here.
        """
        ...

    def parameters(self) -> dict[str, Float32Array]:
        """Dense parameters by stable name (copies)."""
        ...

    def load_parameters(self, params: Mapping[str, Float32Array]) -> None:
        """Overwrite dense parameters (shapes must match)."""
        ...

    def state(self) -> dict[str, Float32Array]:
        """Parameters plus optimizer state (``optimizer.*`` keys), for checkpoints."""
        ...

    def load_state(self, state: Mapping[str, Float32Array]) -> None:
        """Restore what :meth:`state` returned."""
        ...
