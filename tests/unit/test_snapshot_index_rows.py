"""Snapshot formats 3 and 2: how a part saves its hash index and gets it back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.parameters.npy_files import write_npy
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.domain.embedding.config import OptimizerConfig, TableConfig
from monolith.domain.embedding.hash_index import HashIndex, slots_from_rows
from monolith.domain.errors import ParameterStoreError

pytestmark = pytest.mark.unit

ROOT = "memory://snap"
PART = f"{ROOT}/tables/t/part-00000-of-00001"
CONFIG = TableConfig("t", dim=4, optimizer=OptimizerConfig("sgd"))


def rows_of(slots: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The key and the slot of each row: what a format 2 part saved."""
    occupied = np.flatnonzero(slots[:, 1] > 0)
    rows = slots[occupied, 1] - 1
    keys = np.empty(size, dtype=np.int64)
    keys[rows] = slots[occupied, 0]
    where = np.empty(size, dtype=np.int64)
    where[rows] = occupied
    return keys, where


def saved_store(fs: InMemoryFileSystem) -> tuple[LocalParameterStore, np.ndarray]:
    store = LocalParameterStore(1, fs=fs)
    store.create_tables([CONFIG])
    fids = np.random.default_rng(3).integers(-(2**62), 2**62, 500, dtype=np.int64)
    store.apply_gradients("t", fids, np.ones((500, 4), np.float32), 1, 10.0)
    store.snapshot(ROOT)
    return store, fids


def fresh_store(fs: InMemoryFileSystem, shards: int = 1) -> LocalParameterStore:
    store = LocalParameterStore(shards, fs=fs)
    store.create_tables([CONFIG])
    return store


def an_index() -> HashIndex:
    index = HashIndex()
    index.insert_new(np.arange(1, 3000, 7, dtype=np.int64) * 1_000_003)
    return index


def read_meta(fs: InMemoryFileSystem) -> dict:
    with fs.open(f"{PART}/CHECKSUMS.json", "rb") as handle:
        return json.loads(handle.read())


def write_meta(fs: InMemoryFileSystem, meta: dict) -> None:
    with fs.atomic_write(f"{PART}/CHECKSUMS.json") as handle:
        handle.write(json.dumps(meta).encode())


def test_format_2_row_slots_rebuild_the_exact_slot_array() -> None:
    index = an_index()

    keys, where = rows_of(index.slots, len(index))
    rebuilt = slots_from_rows(keys, where.astype(np.uint32), index.slots.shape[0])

    assert np.array_equal(rebuilt, index.slots)
    assert np.array_equal(keys, index.row_keys())
    with pytest.raises(ValueError, match="lie in"):
        slots_from_rows(keys[:2], np.array([0, 16]), 16)


def test_a_restored_store_adopts_the_saved_slot_array() -> None:
    fs = InMemoryFileSystem()
    store, fids = saved_store(fs)
    expected = store.lookup("t", fids)

    restored = fresh_store(fs)
    restored.restore(ROOT)

    saved = restored._shards[0].tables["t"]._index.slots
    assert np.array_equal(saved, store._shards[0].tables["t"]._index.slots)
    assert np.array_equal(restored.lookup("t", fids), expected)
    assert restored.tables()[0].rows == 500


def test_a_part_keeps_its_keys_in_the_index_and_reshards_from_it() -> None:
    fs = InMemoryFileSystem()
    store, fids = saved_store(fs)
    expected = store.lookup("t", fids)
    with fs.open(f"{PART}/index.npy", "rb") as handle:
        index = np.load(handle, allow_pickle=False)
    occupied = index[index[:, 1] > 0]

    resharded = fresh_store(fs, shards=3)
    resharded.restore(ROOT)

    assert not fs.exists(f"{PART}/keys.npy")
    assert sorted(occupied[:, 0].tolist()) == sorted(fids.tolist())
    assert sorted(occupied[:, 1].tolist()) == list(range(1, 501))
    assert np.array_equal(resharded.lookup("t", fids), expected)


def test_a_part_with_expired_rows_saves_keys_instead_of_an_index() -> None:
    fs = InMemoryFileSystem()
    config = TableConfig("t", dim=4, optimizer=OptimizerConfig("sgd"), expire_days=1)
    store = LocalParameterStore(1, fs=fs)
    store.create_tables([config])
    store.apply_gradients("t", np.array([1, 2]), np.ones((2, 4), np.float32), 1, 0.0)
    store.apply_gradients("t", np.array([3]), np.ones((1, 4), np.float32), 2, 2e5)
    store.snapshot(ROOT)

    restored = LocalParameterStore(1, fs=fs)
    restored.create_tables([config])
    restored.restore(ROOT)

    assert fs.exists(f"{PART}/keys.npy") and not fs.exists(f"{PART}/index.npy")
    assert restored.tables()[0].rows == 1
    assert restored.lookup("t", np.array([1, 3]))[:, 0].tolist()[0] == 0.0


@pytest.mark.parametrize("shards", [1, 2])
def test_an_index_that_disagrees_with_the_rows_is_refused(shards: int) -> None:
    fs = InMemoryFileSystem()
    saved_store(fs)
    with fs.open(f"{PART}/index.npy", "rb") as handle:
        index = np.load(handle, allow_pickle=False)
    index[np.flatnonzero(index[:, 1])[0]] = 0  # one row lost from the index
    meta = read_meta(fs)
    meta["files"]["index"] = write_npy(fs, f"{PART}/index.npy", index).to_json()
    write_meta(fs, meta)

    with pytest.raises(ParameterStoreError, match="index"):
        fresh_store(fs, shards).restore(ROOT)


def test_a_format_2_snapshot_still_restores() -> None:
    fs = InMemoryFileSystem()
    store, fids = saved_store(fs)
    expected = store.lookup("t", fids)
    table = store._shards[0].tables["t"]
    keys, where = rows_of(table._index.slots, len(table))
    meta = read_meta(fs)
    fs.remove(f"{PART}/index.npy")  # format 2: keys.npy + the slot of each row
    del meta["files"]["index"]
    meta["files"]["keys"] = write_npy(fs, f"{PART}/keys.npy", keys).to_json()
    meta["files"]["slots"] = write_npy(
        fs, f"{PART}/slots.npy", where.astype(np.uint32)
    ).to_json()
    meta["format"] = 2
    write_meta(fs, meta)

    for shards in (1, 2):
        restored = fresh_store(fs, shards)
        restored.restore(ROOT)
        assert np.array_equal(restored.lookup("t", fids), expected)


def test_a_format_1_snapshot_is_refused_with_its_format_named() -> None:
    fs = InMemoryFileSystem()
    saved_store(fs)
    meta = read_meta(fs)
    meta["format"] = 1
    write_meta(fs, meta)

    with pytest.raises(ParameterStoreError, match="format 1, expected one of 2, 3"):
        fresh_store(fs).restore(ROOT)
