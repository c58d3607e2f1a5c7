"""Snapshot formats 3 and 2: how a part saves its hash index and rebuilds it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.parameters.npy_files import write_npy
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.domain.embedding.config import OptimizerConfig, TableConfig
from monolith.domain.embedding.hash_index import (
    HashIndex,
    occupied_slots,
    rows_of,
    slots_from_entries,
    slots_from_rows,
)
from monolith.domain.errors import ParameterStoreError

pytestmark = pytest.mark.unit

ROOT = "memory://snap"
PART = f"{ROOT}/tables/t/part-00000-of-00001"
CONFIG = TableConfig("t", dim=4, optimizer=OptimizerConfig("sgd"))


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


def test_occupied_slots_in_slot_order_rebuild_the_exact_slot_array() -> None:
    index = an_index()

    entries, where = occupied_slots(index.slots)
    rebuilt = slots_from_entries(entries, where.astype(np.uint32), len(index.slots))

    assert np.all(np.diff(where) > 0) and entries.shape == (len(index), 2)
    assert np.array_equal(rebuilt, index.slots)


def test_entries_that_break_the_index_are_refused() -> None:
    entries, where = occupied_slots(an_index().slots)
    count = 2 * len(where)
    count = 1 << (count - 1).bit_length()
    swapped = where.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    twice = entries.copy()
    twice[1, 1] = twice[0, 1]

    with pytest.raises(ValueError, match="strictly ascending"):
        slots_from_entries(entries, swapped, count)
    with pytest.raises(ValueError, match="every row once"):
        slots_from_entries(twice, where, count)
    with pytest.raises(ValueError, match="lie in"):
        slots_from_entries(entries, where + count, count)
    with pytest.raises(ValueError, match="power of two"):
        slots_from_entries(entries, where, count - 1)


def test_format_2_row_slots_rebuild_the_exact_slot_array() -> None:
    index = an_index()

    keys, where = rows_of(index.slots, len(index))
    rebuilt = slots_from_rows(keys, where.astype(np.uint32), index.slots.shape[0])

    assert np.array_equal(rebuilt, index.slots)
    assert np.array_equal(keys, index.row_keys())
    with pytest.raises(ValueError, match="lie in"):
        slots_from_rows(keys[:2], np.array([0, 16]), 16)


def test_a_restored_store_finds_every_fid_through_the_rebuilt_index() -> None:
    fs = InMemoryFileSystem()
    store, fids = saved_store(fs)
    expected = store.lookup("t", fids)

    restored = fresh_store(fs)
    restored.restore(ROOT)

    assert fs.exists(f"{PART}/index.npy") and fs.exists(f"{PART}/index_slots.npy")
    assert np.array_equal(restored.lookup("t", fids), expected)
    assert restored.tables()[0].rows == 500
    assert restored.memory_bytes() == store.memory_bytes()


def test_a_restore_onto_the_same_sharding_takes_the_keys_from_the_index() -> None:
    fs = InMemoryFileSystem()
    store, fids = saved_store(fs)
    expected = store.lookup("t", fids)
    fs.remove(f"{PART}/keys.npy")  # not read when the index is adopted

    restored = fresh_store(fs)
    restored.restore(ROOT)
    assert np.array_equal(restored.lookup("t", fids), expected)

    resharded = fresh_store(fs, shards=2)  # re-routes rows: needs the keys
    with pytest.raises(ParameterStoreError, match="keys.npy"):
        resharded.restore(ROOT)


def test_a_corrupt_index_is_refused_naming_the_part() -> None:
    fs = InMemoryFileSystem()
    saved_store(fs)
    entries, where = occupied_slots(an_index().slots)
    meta = read_meta(fs)
    broken = where[: len(entries)].astype(np.uint32)[::-1].copy()
    meta["files"]["index_slots"] = write_npy(
        fs, f"{PART}/index_slots.npy", np.resize(broken, 500)
    ).to_json()
    write_meta(fs, meta)

    with pytest.raises(ParameterStoreError, match=f"{PART}.*invalid index"):
        fresh_store(fs).restore(ROOT)


def test_a_format_2_snapshot_still_restores() -> None:
    fs = InMemoryFileSystem()
    store, fids = saved_store(fs)
    expected = store.lookup("t", fids)
    table = store._shards[0].tables["t"]
    keys, where = rows_of(table._index.slots, len(table))
    meta = read_meta(fs)
    for name in ("index", "index_slots"):
        fs.remove(f"{PART}/{name}.npy")
        del meta["files"][name]
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
