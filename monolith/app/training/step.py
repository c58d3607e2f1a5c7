"""One worker step: batch -> embeddings -> dense tower -> sparse and dense updates.

The flow (ARCHITECTURE.md §3, "Training step"):

1. per slot, the unique fids of the batch (``np.unique`` with
   ``return_inverse``), optionally mapped by a fid transform first;
2. one ``store.lookup_many`` call (one lookup per table; the slots sharing
   a table are looked up together) gives one row per unique fid of each
   slot, and
   :class:`~monolith.ports.compute.SlotInput` carries the rows, the inverse
   index and the batch's ``row_splits`` to the backend;
3. ``backend.compute_gradients`` returns the loss and, per slot, gradients
   already summed per unique row;
4. one ``store.apply_gradients_many`` call (slots that share a table are
   merged into one update), then the dense update: in the backend, or on the
   store when dense parameters live on the parameter servers.

The original's ``enable_embedding_postpush`` let the next step look up before
the previous update landed (one step of staleness); on the datagen check that
cost 0.002 AUC, so every lookup here sees every update before it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain.batch import Batch
from monolith.domain.errors import UsageError
from monolith.domain.model_spec import ModelSpec
from monolith.ports.clock import Clock
from monolith.ports.compute import ComputeBackend, SlotInput, StepResult, TowerInputs
from monolith.ports.parameters import ParameterStore

logger = logging.getLogger(__name__)

Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]

FidTransform = Callable[[str, Int64Array], Int64Array]
"""``(table, fids) -> fids``: rewrites fids before lookup and update."""

ApplyGuard = Callable[[int, StepResult], None]
"""Called with ``(step, result)`` after the gradients, before any update."""


def hashed_buckets(num_buckets: int | Mapping[str, int]) -> FidTransform:
    """A transform that folds every fid into a fixed number of buckets per table.

    This turns a collisionless table into the hashed-bucket table the
    collision experiment compares against: distinct fids with the same
    ``fid mod num_buckets`` share a row. ``num_buckets`` is one count for
    every table, or a count per table name.
    """
    counts = (
        dict(num_buckets) if isinstance(num_buckets, Mapping) else {"*": num_buckets}
    )
    for table, count in counts.items():
        if count < 1:
            raise UsageError(
                f"num_buckets of table {table!r} must be at least 1, got {count}"
            )

    def transform(table: str, fids: Int64Array) -> Int64Array:
        count = counts.get(table, counts.get("*"))
        if count is None:
            return fids
        return np.mod(fids, count)

    return transform


@attrs.frozen
class PreparedBatch:
    """Tower inputs of a batch plus, per slot, the unique fids its rows belong to."""

    inputs: TowerInputs
    labels: Float32Array
    unique_fids: dict[str, Int64Array]


def prepare_batch(
    batch: Batch,
    spec: ModelSpec,
    store: ParameterStore,
    fid_transform: FidTransform | None = None,
) -> PreparedBatch:
    """Look up the embeddings of ``batch`` and shape them for the backend.

    Raises:
        UsageError: a slot of the model is missing from the batch.
    """
    missing = [slot.name for slot in spec.slots if slot.name not in batch.sparse]
    if missing:
        known = ", ".join(sorted(batch.sparse)) or "none"
        raise UsageError(
            f"model slot {missing[0]!r} is not in the batch; the batch has "
            f"slots: {known}. Check the feature spec of the data."
        )
    unique_fids: dict[str, Int64Array] = {}
    inverses: dict[str, Int64Array] = {}
    by_table: dict[str, list[str]] = {}
    for slot in spec.slots:
        fids = batch.sparse[slot.name].values
        if fid_transform is not None:
            fids = fid_transform(slot.table, fids)
        unique, inverse = np.unique(fids, return_inverse=True)
        unique_fids[slot.name] = unique
        inverses[slot.name] = inverse.astype(np.int64, copy=False).reshape(-1)
        by_table.setdefault(slot.table, []).append(slot.name)
    # One store call for every table, one lookup per table within it: slots
    # sharing a table are looked up together.
    wanted: dict[str, Int64Array] = {}
    for table, names in by_table.items():
        parts = [unique_fids[name] for name in names]
        wanted[table] = parts[0] if len(parts) == 1 else np.concatenate(parts)
    found = store.lookup_many(wanted)
    rows_of: dict[str, Float32Array] = {}
    for table, names in by_table.items():
        if len(names) == 1:
            rows_of[names[0]] = found[table]
            continue
        sizes = [unique_fids[name].shape[0] for name in names]
        rows_of.update(
            zip(names, np.split(found[table], np.cumsum(sizes)[:-1]), strict=True)
        )
    slots = {
        slot.name: SlotInput(
            rows=rows_of[slot.name],
            index=inverses[slot.name],
            row_splits=batch.sparse[slot.name].row_splits,
        )
        for slot in spec.slots
    }
    dense = np.asarray(batch.dense, dtype=np.float32)
    labels = np.asarray(batch.label, dtype=np.float32)
    return PreparedBatch(TowerInputs(slots=slots, dense=dense), labels, unique_fids)


class WorkerStep:
    """Runs training steps of one worker against a store and a backend.

    Args:
        spec: The model.
        store: Where the embedding tables (and, with ``dense_on_store``, the
            dense parameters) live.
        backend: A built compute backend, used by this worker only.
        clock: Source of the last-update timestamps of embedding rows.
        fid_transform: Optional rewrite of fids (e.g. :func:`hashed_buckets`).
        dense_on_store: Pull dense parameters from the store before each step
            and push the dense gradients to it (async PS training), instead of
            updating the backend's own parameters.
    """

    def __init__(
        self,
        spec: ModelSpec,
        store: ParameterStore,
        backend: ComputeBackend,
        clock: Clock,
        *,
        fid_transform: FidTransform | None = None,
        dense_on_store: bool = False,
    ) -> None:
        self.spec = spec
        self.store = store
        self.backend = backend
        self.clock = clock
        self.fid_transform = fid_transform
        self.dense_on_store = dense_on_store
        self._slot_table = {slot.name: slot.table for slot in spec.slots}

    def prepare(self, batch: Batch) -> PreparedBatch:
        """Look up a batch's embeddings (no update)."""
        return prepare_batch(batch, self.spec, self.store, self.fid_transform)

    def predict(self, batch: Batch) -> Float32Array:
        """Scores of a batch with the current parameters."""
        if self.dense_on_store:
            self.backend.load_parameters(self.store.pull_dense())
        return self.backend.predict(self.prepare(batch).inputs)

    def run(
        self, batch: Batch, step: int, guard: ApplyGuard | None = None
    ) -> StepResult:
        """Train on ``batch`` as global step ``step`` and return what it computed.

        ``guard`` sees the result before any parameter changes; raising there
        leaves every table and dense parameter as it was.
        """
        if self.dense_on_store:
            self.backend.load_parameters(self.store.pull_dense())
        prepared = self.prepare(batch)
        result = self.backend.compute_gradients(prepared.inputs, prepared.labels)
        if guard is not None:
            guard(step, result)
        self.apply_sparse(prepared, result, step, self.clock.now())
        if self.dense_on_store:
            self.store.push_dense_gradients(result.dense_grads)
        else:
            self.backend.apply_dense_gradients(result.dense_grads)
        return result

    def apply_sparse(
        self, prepared: PreparedBatch, result: StepResult, step: int, timestamp: float
    ) -> None:
        """Apply a step's embedding gradients to the store."""
        per_table: dict[str, tuple[list[Int64Array], list[Float32Array]]] = {}
        for slot_name, fids in prepared.unique_fids.items():
            grads = result.slot_grads.get(slot_name)
            if grads is None:
                continue
            fid_parts, grad_parts = per_table.setdefault(
                self._slot_table[slot_name], ([], [])
            )
            fid_parts.append(fids)
            grad_parts.append(grads)
        updates: dict[str, tuple[Int64Array, Float32Array]] = {}
        for table, (fid_parts, grad_parts) in per_table.items():
            if len(fid_parts) == 1:
                updates[table] = (fid_parts[0], grad_parts[0])
            else:
                updates[table] = (
                    np.concatenate(fid_parts),
                    np.concatenate(grad_parts, axis=0),
                )
        if updates:
            self.store.apply_gradients_many(updates, step, timestamp)
