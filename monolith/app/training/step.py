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

With ``overlap_sparse``, step 4's sparse update runs in a helper thread
beside the dense update, the hooks and the next batch's input, and
:meth:`WorkerStep.plan_ahead` works out the next batch's unique fids there
while the current step computes. The next step's lookups wait for the
update, so every lookup still sees every update before it (the result is
that of the plain order). The original's
``enable_embedding_postpush`` went further and let the next step look up
before the update landed (one step of staleness); on the datagen check that
cost 0.002 AUC, so it is not done here. :meth:`WorkerStep.flush` waits for
an update in flight (before saves, predictions and the end of training).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

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


@attrs.frozen
class BatchPlan:
    """A batch's unique fids per slot, before any lookup (no store access)."""

    batch: Batch
    unique_fids: dict[str, Int64Array]
    inverses: dict[str, Int64Array]


def plan_batch(
    batch: Batch, spec: ModelSpec, fid_transform: FidTransform | None = None
) -> BatchPlan:
    """The unique fids of each slot of ``batch`` and where each occurrence is.

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
    for slot in spec.slots:
        fids = batch.sparse[slot.name].values
        if fid_transform is not None:
            fids = fid_transform(slot.table, fids)
        unique, inverse = np.unique(fids, return_inverse=True)
        unique_fids[slot.name] = unique
        inverses[slot.name] = inverse.astype(np.int64, copy=False).reshape(-1)
    return BatchPlan(batch, unique_fids, inverses)


def lookup_batch(
    plan: BatchPlan, spec: ModelSpec, store: ParameterStore
) -> PreparedBatch:
    """Look up a planned batch's embeddings and shape them for the backend."""
    by_table: dict[str, list[str]] = {}
    for slot in spec.slots:
        by_table.setdefault(slot.table, []).append(slot.name)
    # One store call for every table, one lookup per table within it: slots
    # sharing a table are looked up together.
    wanted: dict[str, Int64Array] = {}
    for table, names in by_table.items():
        parts = [plan.unique_fids[name] for name in names]
        wanted[table] = parts[0] if len(parts) == 1 else np.concatenate(parts)
    found = store.lookup_many(wanted)
    rows_of: dict[str, Float32Array] = {}
    for table, names in by_table.items():
        if len(names) == 1:
            rows_of[names[0]] = found[table]
            continue
        sizes = [plan.unique_fids[name].shape[0] for name in names]
        rows_of.update(
            zip(names, np.split(found[table], np.cumsum(sizes)[:-1]), strict=True)
        )
    batch = plan.batch
    slots = {
        slot.name: SlotInput(
            rows=rows_of[slot.name],
            index=plan.inverses[slot.name],
            row_splits=batch.sparse[slot.name].row_splits,
        )
        for slot in spec.slots
    }
    dense = np.asarray(batch.dense, dtype=np.float32)
    labels = np.asarray(batch.label, dtype=np.float32)
    return PreparedBatch(
        TowerInputs(slots=slots, dense=dense), labels, plan.unique_fids
    )


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
    return lookup_batch(plan_batch(batch, spec, fid_transform), spec, store)


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
        overlap_sparse: Run each step's sparse update in a helper thread
            beside the rest of the step (see the module docstring); call
            :meth:`close` when done.
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
        overlap_sparse: bool = False,
    ) -> None:
        self.spec = spec
        self.store = store
        self.backend = backend
        self.clock = clock
        self.fid_transform = fid_transform
        self.dense_on_store = dense_on_store
        self.overlap_sparse = overlap_sparse
        self._slot_table = {slot.name: slot.table for slot in spec.slots}
        self._pending_lock = threading.Lock()
        self._pending: Future[None] | None = None
        self._helper_pool: ThreadPoolExecutor | None = None
        self._planned: tuple[Batch, Future[BatchPlan]] | None = None

    def plan_ahead(self, batch: Batch) -> None:
        """Work out ``batch``'s unique fids in the helper thread, ahead of its
        step (while the current step computes); the step picks them up."""
        if not self.overlap_sparse:
            return
        self._planned = (
            batch,
            self._helper().submit(plan_batch, batch, self.spec, self.fid_transform),
        )

    def prepare(self, batch: Batch) -> PreparedBatch:
        """Look up a batch's embeddings (no update), after any update in flight."""
        planned, self._planned = self._planned, None
        if planned is not None and planned[0] is batch:
            plan = planned[1].result()
        else:
            plan = plan_batch(batch, self.spec, self.fid_transform)
        self.flush()
        return lookup_batch(plan, self.spec, self.store)

    def predict(self, batch: Batch) -> Float32Array:
        """Scores of a batch with the current parameters."""
        self.flush()
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
        update = _SparseUpdate(prepared, result, step, self.clock.now())
        if self.overlap_sparse:
            with self._pending_lock:
                self._pending = self._helper().submit(self._apply_sparse, update)
        else:
            self._apply_sparse(update)
        if self.dense_on_store:
            self.store.push_dense_gradients(result.dense_grads)
        else:
            self.backend.apply_dense_gradients(result.dense_grads)
        return result

    def _helper(self) -> ThreadPoolExecutor:
        """The one helper thread: its tasks run in the order they come."""
        if self._helper_pool is None:
            self._helper_pool = ThreadPoolExecutor(
                1, thread_name_prefix="worker-helper"
            )
        return self._helper_pool

    def flush(self) -> None:
        """Wait for the sparse update in flight, if any (its error re-raised)."""
        with self._pending_lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the update in flight and stop the helper thread."""
        self._planned = None
        try:
            self.flush()
        finally:
            if self._helper_pool is not None:
                self._helper_pool.shutdown(wait=True)
                self._helper_pool = None

    def apply_sparse(
        self, prepared: PreparedBatch, result: StepResult, step: int, timestamp: float
    ) -> None:
        """Apply a step's embedding gradients to the store now."""
        self._apply_sparse(_SparseUpdate(prepared, result, step, timestamp))

    def _apply_sparse(self, update: _SparseUpdate) -> None:
        per_table: dict[str, tuple[list[Int64Array], list[Float32Array]]] = {}
        for slot_name, fids in update.prepared.unique_fids.items():
            grads = update.result.slot_grads.get(slot_name)
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
            self.store.apply_gradients_many(updates, update.step, update.timestamp)


@attrs.frozen(eq=False)
class _SparseUpdate:
    """One step's embedding gradients, ready for the store."""

    prepared: PreparedBatch
    result: StepResult
    step: int
    timestamp: float
