"""A minimal in-memory worker for compute tests: dense numpy tables plus batching.

It is not the collisionless table (that lives with the parameter store); it
only gives contract suites and benchmarks a way to turn fids into
:class:`~monolith.ports.compute.TowerInputs` and to apply slot gradients.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from monolith.domain.batch import RaggedFids
from monolith.domain.model_spec import ModelSpec
from monolith.ports.compute import SlotInput, TowerInputs

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]


class ToyTables:
    """One dense ``[vocab, width]`` numpy table per table of ``spec``.

    Fids must lie in ``[0, vocab)``. Updates are plain Adagrad on the touched
    rows (gradients of a slot are already summed per unique fid).
    """

    def __init__(
        self, spec: ModelSpec, vocab: int, seed: int = 0, scale: float = 0.05
    ) -> None:
        rng = np.random.default_rng(seed)
        self.spec = spec
        self.vocab = vocab
        self.tables: dict[str, Float32Array] = {
            t.name: rng.uniform(-scale, scale, (vocab, t.width)).astype(np.float32)
            for t in spec.tables
        }
        self._accumulators = {
            name: np.full_like(table, 0.1) for name, table in self.tables.items()
        }
        self._unique: dict[str, npt.NDArray[np.int64]] = {}

    def inputs(
        self, fids: Mapping[str, RaggedFids], dense: Float32Array
    ) -> TowerInputs:
        """Unique-and-gather every slot of a batch, as a worker would."""
        slots: dict[str, SlotInput] = {}
        for slot in self.spec.slots:
            ragged = fids[slot.name]
            unique, inverse = np.unique(ragged.values, return_inverse=True)
            self._unique[slot.name] = unique
            slots[slot.name] = SlotInput(
                rows=self.tables[slot.table][unique],
                index=inverse.astype(np.int64).reshape(-1),
                row_splits=ragged.row_splits,
            )
        return TowerInputs(slots=slots, dense=np.asarray(dense, np.float32))

    def apply(self, slot_grads: Mapping[str, Float32Array], lr: float) -> None:
        """Adagrad on the rows of the last :meth:`inputs` call."""
        for slot in self.spec.slots:
            unique = self._unique[slot.name]
            grad = slot_grads[slot.name]
            acc = self._accumulators[slot.table]
            acc[unique] += grad * grad
            self.tables[slot.table][unique] -= lr * grad / np.sqrt(acc[unique])


def random_fids(
    spec: ModelSpec,
    batch: int,
    vocab: int,
    rng: np.random.Generator,
    max_per_slot: int = 3,
) -> dict[str, RaggedFids]:
    """Random ragged fids per slot; sequence slots overflow ``max_len`` sometimes.

    Pooled slots get 0..``max_per_slot`` fids per example (0 exercises empty
    bags); sequence slots get 0..``max_len + 2``.
    """
    out: dict[str, RaggedFids] = {}
    for slot in spec.slots:
        top = slot.max_len + 2 if slot.pooling == "sequence" else max_per_slot
        lengths = rng.integers(0, top + 1, size=batch)
        splits = np.zeros(batch + 1, dtype=np.int64)
        np.cumsum(lengths, out=splits[1:])
        values = rng.integers(0, vocab, size=int(splits[-1])).astype(np.int64)
        out[slot.name] = RaggedFids(values, splits)
    return out


def random_inputs(
    spec: ModelSpec, batch: int, vocab: int = 50, seed: int = 0
) -> TowerInputs:
    """A random batch of tower inputs for ``spec`` (rows from a seeded table)."""
    rng = np.random.default_rng(seed)
    tables = ToyTables(spec, vocab, seed=seed, scale=0.5)
    fids = random_fids(spec, batch, vocab, rng)
    dense = rng.normal(size=(batch, spec.dense_features)).astype(np.float32)
    return tables.inputs(fids, dense)
