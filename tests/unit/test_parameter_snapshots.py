"""Snapshot files of the local parameter store: format, checks, expiry, filters."""

from __future__ import annotations

import io

import numpy as np
import pytest

from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.domain.embedding.config import (
    InitializerConfig,
    OptimizerConfig,
    TableConfig,
)
from monolith.domain.errors import ParameterStoreError, UsageError

pytestmark = pytest.mark.unit

ROOT = "memory://snap"


def sgd(name: str = "t", **kwargs: object) -> TableConfig:
    return TableConfig(
        name,
        dim=2,
        initializer=InitializerConfig("zeros"),
        optimizer=OptimizerConfig("sgd", learning_rate=1.0),
        **kwargs,  # type: ignore[arg-type]
    )


def filled(fs: InMemoryFileSystem, shards: int = 2) -> LocalParameterStore:
    store = LocalParameterStore(shards, fs=fs)
    store.create_tables([sgd()])
    fids = np.arange(10, dtype=np.int64)
    store.apply_gradients("t", fids, -np.ones((10, 2), np.float32), 1, 100.0)
    return store


def read(fs: InMemoryFileSystem, path: str) -> bytes:
    with fs.open(path) as handle:
        return handle.read()


def test_snapshot_arrays_are_plain_npy_files_without_pickle() -> None:
    fs = InMemoryFileSystem()
    files = filled(fs).snapshot(ROOT)

    index = np.load(
        io.BytesIO(read(fs, f"{ROOT}/tables/t/part-00000-of-00002/index.npy"))
    )

    assert f"{ROOT}/tables/t/part-00001-of-00002/CHECKSUMS.json" in files
    keys = index[index[:, 1] > 0, 0]  # (key, row + 1) per occupied slot
    assert index.dtype == np.int64 and sorted(keys.tolist()) == [0, 2, 4, 6, 8]
    for path in files:
        if path.endswith(".npy"):
            np.load(io.BytesIO(read(fs, path)), allow_pickle=False)


def test_a_flipped_byte_fails_the_checksum_on_restore() -> None:
    fs = InMemoryFileSystem()
    store = filled(fs)
    store.snapshot(ROOT)
    path = f"{ROOT}/tables/t/part-00001-of-00002/values.npy"
    data = bytearray(read(fs, path))
    data[-1] ^= 0xFF
    with fs.atomic_write(path) as handle:
        handle.write(bytes(data))

    with pytest.raises(ParameterStoreError, match="CRC-32C"):
        store.restore(ROOT)


def test_a_missing_part_is_refused_with_its_number() -> None:
    fs = InMemoryFileSystem()
    store = filled(fs)
    store.snapshot(ROOT)
    fs.rmtree(f"{ROOT}/tables/t/part-00001-of-00002")

    with pytest.raises(ParameterStoreError, match=r"missing parts \[1\] of 2"):
        store.restore(ROOT)


def test_a_part_without_its_checksum_file_is_incomplete() -> None:
    fs = InMemoryFileSystem()
    store = filled(fs)
    store.snapshot(ROOT)
    fs.remove(f"{ROOT}/tables/t/part-00000-of-00002/CHECKSUMS.json")

    with pytest.raises(ParameterStoreError, match="incomplete"):
        store.restore(ROOT)


def test_snapshotting_onto_another_shard_count_replaces_the_old_parts() -> None:
    fs = InMemoryFileSystem()
    filled(fs, shards=3).snapshot(ROOT)
    store = filled(fs, shards=2)

    store.snapshot(ROOT)

    assert fs.listdir(f"{ROOT}/tables/t") == [
        "part-00000-of-00002",
        "part-00001-of-00002",
    ]


def test_restoring_a_table_with_another_width_is_refused() -> None:
    fs = InMemoryFileSystem()
    filled(fs).snapshot(ROOT)
    other = LocalParameterStore(2, fs=fs)
    other.create_tables([TableConfig("t", dim=3, optimizer=OptimizerConfig("sgd"))])

    with pytest.raises(ParameterStoreError, match="width 2"):
        other.restore(ROOT)


def test_per_table_expiry_keeps_or_drops_entries_updated_at_100() -> None:
    # test_entry_ttl_by_slots: expire {slot 1: 0 days, slot 2: 1 day}, update 100.
    fs = InMemoryFileSystem()
    store = LocalParameterStore(1, fs=fs)
    store.create_tables([sgd("slot1", expire_days=0.0), sgd("slot2", expire_days=1.0)])
    fid = np.array([7], dtype=np.int64)
    for table in ("slot1", "slot2"):
        store.apply_gradients(table, fid, -np.ones((1, 2), np.float32), 1, 100.0)
    store.snapshot(ROOT)

    store.restore(ROOT)

    assert not store.lookup("slot1", fid).any()
    assert store.lookup("slot2", fid).tolist() == [[1.0, 1.0]]


def test_occurrence_counts_survive_a_restore() -> None:
    fs = InMemoryFileSystem()
    store = LocalParameterStore(1, fs=fs)
    store.create_tables([sgd(occurrence_threshold=2)])
    fid = np.array([5], dtype=np.int64)
    store.apply_gradients("t", fid, -np.ones((1, 2), np.float32), 1, 0)
    store.apply_gradients("t", fid, -np.ones((1, 2), np.float32), 2, 0)
    store.snapshot(ROOT)
    store.restore(ROOT)

    store.apply_gradients("t", fid, -np.ones((1, 2), np.float32), 3, 0)

    assert store.lookup("t", fid).tolist() == [[1.0, 1.0]]


def test_snapshot_without_a_file_system_is_a_usage_error() -> None:
    store = LocalParameterStore(1)

    with pytest.raises(UsageError, match="fs="):
        store.snapshot(ROOT)
