"""The checkpoint manager over the in-memory file system (decisions 1 and 2)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.app.checkpoints import (
    CheckpointManager,
    dense_entry_name,
    dense_file_name,
    resolve_checkpoint,
)
from monolith.domain.errors import CheckpointError, NoCheckpointError
from tests.training_fakes import FakeBackend, FakeStore, tiny_spec

pytestmark = pytest.mark.unit

MODEL_DIR = "memory:///models/m"


@pytest.fixture
def fs() -> InMemoryFileSystem:
    return InMemoryFileSystem()


def _trained(fs: InMemoryFileSystem) -> tuple[FakeStore, FakeBackend]:
    store = FakeStore(fs=fs)
    store.create_tables(tiny_spec().tables)
    store.apply_gradients(
        "t_a", np.array([1, 2], np.int64), np.ones((2, 1), np.float32), 1, 0.0
    )
    backend = FakeBackend()
    backend.build(tiny_spec())
    backend.params["head/w"][:] = 3.0
    backend.steps = 7
    return store, backend


def _manager(fs, **kwargs) -> CheckpointManager:
    return CheckpointManager(fs, MODEL_DIR, ManualClock(), **kwargs)


def _save(manager: CheckpointManager, fs, step: int) -> None:
    store, backend = _trained(fs)
    manager.save(step, store, backend, task="tiny")


def test_save_writes_a_manifest_listing_every_payload_file_with_size_and_sha256(fs):
    manager = _manager(fs)
    store, backend = _trained(fs)

    manifest = manager.save(5, store, backend, task="tiny", config={"lr": 1})

    assert fs.exists(f"{MODEL_DIR}/checkpoint-5.json")
    paths = {f.path for f in manifest.files}
    assert "dense/head%2Fw.npy" in paths
    assert "tables/tables.json" in paths
    for entry in manifest.files:
        assert fs.size(f"{MODEL_DIR}/checkpoint-5.data/{entry.path}") == entry.size
        assert len(entry.sha256) == 64
    assert manifest.backend == "fake"
    assert manager.verify(5).valid


def test_restore_brings_back_tables_and_dense_state_and_logs_the_step(fs, caplog):
    manager = _manager(fs)
    _save(manager, fs, 5)
    store = FakeStore(fs=fs)
    store.create_tables(tiny_spec().tables)
    backend = FakeBackend()
    backend.build(tiny_spec())

    with caplog.at_level(logging.INFO, logger="monolith"):
        manifest = manager.restore(store, backend)

    assert manifest.step == 5
    assert "restored from checkpoint-5" in caplog.text
    assert store.lookup("t_a", np.array([1, 3], np.int64)).tolist() == [[-0.5], [0.0]]
    assert backend.params["head/w"].tolist() == [3.0]
    assert backend.steps == 7


def test_a_corrupted_payload_fails_verification_and_restore_uses_the_previous_one(fs):
    manager = _manager(fs)
    _save(manager, fs, 5)
    _save(manager, fs, 10)
    victim = f"{MODEL_DIR}/checkpoint-10.data/dense/head%2Fw.npy"
    data = bytearray(fs.open(victim).read())
    data[-1] ^= 0xFF
    with fs.open(victim, "wb") as handle:
        handle.write(bytes(data))

    status = manager.verify(10)

    assert not status.valid
    assert "sha256" in (status.problem or "")
    assert manager.latest_valid().step == 5


def test_a_save_killed_before_its_manifest_leaves_no_checkpoint_and_is_cleaned(fs):
    manager = _manager(fs)
    _save(manager, fs, 5)
    with fs.open(f"{MODEL_DIR}/checkpoint-7.data/dense/x.npy", "wb") as handle:
        handle.write(b"partial")

    assert manager.steps() == [5]
    assert manager.latest_valid().step == 5

    _save(manager, fs, 9)

    assert not fs.exists(f"{MODEL_DIR}/checkpoint-7.data")
    assert manager.steps() == [5, 9]


def test_an_empty_model_dir_raises_an_error_naming_the_directory(fs):
    with pytest.raises(NoCheckpointError, match="/models/m"):
        _manager(fs).latest_valid()


def test_retention_keeps_the_newest_max_to_keep_and_deletes_oldest_first(fs):
    manager = _manager(fs, max_to_keep=2)

    for step in (10, 20, 30, 40):
        _save(manager, fs, step)

    assert manager.steps() == [30, 40]
    assert not fs.exists(f"{MODEL_DIR}/checkpoint-10.data")


def test_protected_checkpoints_are_never_deleted_and_do_not_count(fs):
    manager = _manager(fs, max_to_keep=3)
    for step in (10, 20):
        _save(manager, fs, step)
    manager.protect(10)
    manager.protect(20)

    for step in (30, 40, 50, 60):
        _save(manager, fs, step)

    assert manager.steps() == [10, 20, 40, 50, 60]
    listed = json.loads(fs.open(f"{MODEL_DIR}/monolith_checkpoint.json").read())
    assert listed == {"protected_steps": [10, 20]}


def test_the_restored_checkpoint_is_protected_for_the_rest_of_the_run(fs):
    manager = _manager(fs, max_to_keep=1)
    _save(manager, fs, 10)
    manager.restore(FakeStore(fs=fs), None)

    _save(manager, fs, 20)
    _save(manager, fs, 30)

    assert manager.steps() == [10, 30]


def test_max_to_keep_zero_keeps_every_checkpoint(fs):
    manager = _manager(fs, max_to_keep=0)

    for step in range(1, 13):
        _save(manager, fs, step)

    assert len(manager.steps()) == 12


def test_saving_at_step_zero_is_refused(fs):
    with pytest.raises(CheckpointError, match="step >= 1"):
        _save(_manager(fs), fs, 0)


def test_resolve_checkpoint_accepts_a_manifest_or_a_directory(fs):
    manager = _manager(fs)
    _save(manager, fs, 3)
    _save(manager, fs, 8)

    assert resolve_checkpoint(fs, MODEL_DIR) == (MODEL_DIR, 8)
    assert resolve_checkpoint(fs, f"{MODEL_DIR}/checkpoint-3.json") == (MODEL_DIR, 3)


def test_dense_file_names_round_trip_any_state_name():
    for name in ("mlp/0/weight", "a.b", "x%y", "opt:m"):
        assert dense_entry_name(dense_file_name(name)) == name
