"""Snapshot format 2: the hash index saved as the slot of each row."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.domain.embedding.config import OptimizerConfig, TableConfig
from monolith.domain.embedding.hash_index import HashIndex, rows_of, slots_from_rows
from monolith.domain.errors import ParameterStoreError

pytestmark = pytest.mark.unit

ROOT = "memory://snap"
PART = f"{ROOT}/tables/t/part-00000-of-00001"


def saved_store(fs: InMemoryFileSystem) -> tuple[LocalParameterStore, np.ndarray]:
    store = LocalParameterStore(1, fs=fs)
    store.create_tables([TableConfig("t", dim=4, optimizer=OptimizerConfig("sgd"))])
    fids = np.random.default_rng(3).integers(-(2**62), 2**62, 500, dtype=np.int64)
    store.apply_gradients("t", fids, np.ones((500, 4), np.float32), 1, 10.0)
    store.snapshot(ROOT)
    return store, fids


def test_row_slots_rebuild_the_exact_slot_array() -> None:
    index = HashIndex()
    index.insert_new(np.arange(1, 3000, 7, dtype=np.int64) * 1_000_003)

    keys, where = rows_of(index.slots, len(index))
    rebuilt = slots_from_rows(keys, where.astype(np.uint32), index.slots.shape[0])

    assert np.array_equal(rebuilt, index.slots)
    assert np.array_equal(keys, index.row_keys())


def test_row_slots_out_of_range_are_refused() -> None:
    keys = np.array([5, 6], dtype=np.int64)

    with pytest.raises(ValueError, match="lie in"):
        slots_from_rows(keys, np.array([0, 16]), 16)
    with pytest.raises(ValueError, match="power of two"):
        slots_from_rows(keys, np.array([0, 1]), 12)


def test_a_restored_store_finds_every_fid_through_the_rebuilt_index() -> None:
    fs = InMemoryFileSystem()
    store, fids = saved_store(fs)
    expected = store.lookup("t", fids)

    restored = LocalParameterStore(1, fs=fs)
    restored.create_tables([TableConfig("t", dim=4, optimizer=OptimizerConfig("sgd"))])
    restored.restore(ROOT)

    assert fs.exists(f"{PART}/slots.npy")
    assert not fs.exists(f"{PART}/index.npy")
    assert np.array_equal(restored.lookup("t", fids), expected)
    assert restored.tables()[0].rows == 500


def test_a_format_1_snapshot_is_refused_with_its_format_named() -> None:
    fs = InMemoryFileSystem()
    saved_store(fs)
    with fs.open(f"{PART}/CHECKSUMS.json", "rb") as handle:
        meta = json.loads(handle.read())
    meta["format"] = 1
    with fs.atomic_write(f"{PART}/CHECKSUMS.json") as handle:
        handle.write(json.dumps(meta).encode())
    restored = LocalParameterStore(1, fs=fs)
    restored.create_tables([TableConfig("t", dim=4, optimizer=OptimizerConfig("sgd"))])

    with pytest.raises(ParameterStoreError, match="format 1, expected 2"):
        restored.restore(ROOT)
