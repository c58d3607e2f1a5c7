"""Chief and non-chief restore synchronisation (decision 5)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.storage.local import LocalFileSystem
from monolith.app.restore_sync import sync_restore
from monolith.domain.checkpoint import CheckpointManifest, PayloadFile
from monolith.domain.errors import RestoreSyncError

pytestmark = pytest.mark.unit


def write_checkpoint(directory: Path, step: int) -> None:
    payload = directory / f"checkpoint-{step}.data" / "dense" / "w.npy"
    payload.parent.mkdir(parents=True, exist_ok=True)
    content = f"weights-{step}".encode()
    payload.write_bytes(content)
    manifest = CheckpointManifest(
        step=step,
        wall_time=1.0,
        task="t",
        backend="torch",
        config={},
        files=(
            PayloadFile(
                "dense/w.npy", len(content), hashlib.sha256(content).hexdigest()
            ),
        ),
    )
    (directory / f"checkpoint-{step}.json").write_text(manifest.to_json())


@pytest.fixture
def restore_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "restore"
    for step in (0, 30, 61):
        write_checkpoint(directory, step)
    return directory


def protected(model_dir: Path) -> list[int]:
    data = json.loads((model_dir / "monolith_checkpoint.json").read_text())
    return list(data["protected_steps"])


def test_the_chief_copies_the_requested_checkpoint_and_protects_it(
    tmp_path: Path, restore_dir: Path
) -> None:
    model_dir = tmp_path / "model"

    outcome = sync_restore(
        LocalFileSystem(),
        ManualClock(),
        is_chief=True,
        model_dir=str(model_dir),
        restore_dir=str(restore_dir),
        restore_ckpt="checkpoint-30",
    )

    assert outcome is not None and outcome.copied_step == 30
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "checkpoint-30.data",
        "checkpoint-30.json",
        "monolith_checkpoint.json",
    ]
    assert (model_dir / "checkpoint-30.data/dense/w.npy").read_bytes() == b"weights-30"
    assert protected(model_dir) == [30]


def test_the_chief_takes_the_latest_when_restore_ckpt_is_absent_or_missing(
    tmp_path: Path, restore_dir: Path
) -> None:
    fs, clock = LocalFileSystem(), ManualClock()

    first = sync_restore(
        fs,
        clock,
        is_chief=True,
        model_dir=str(tmp_path / "a"),
        restore_dir=str(restore_dir),
    )
    second = sync_restore(
        fs,
        clock,
        is_chief=True,
        model_dir=str(tmp_path / "b"),
        restore_dir=str(restore_dir),
        restore_ckpt="checkpoint-7",
    )

    assert first is not None and first.copied_step == 61
    assert second is not None and second.copied_step == 61


def test_the_chief_copies_nothing_when_model_dir_has_a_checkpoint(
    tmp_path: Path, restore_dir: Path
) -> None:
    model_dir = tmp_path / "model"
    write_checkpoint(model_dir, 100)

    outcome = sync_restore(
        LocalFileSystem(),
        ManualClock(),
        is_chief=True,
        model_dir=str(model_dir),
        restore_dir=str(restore_dir),
    )

    assert outcome is not None and outcome.copied_step is None
    assert not (model_dir / "checkpoint-61.json").exists()
    assert protected(model_dir) == []


def test_a_non_chief_returns_once_the_chief_marked_the_restore(
    tmp_path: Path, restore_dir: Path
) -> None:
    fs, clock = LocalFileSystem(), ManualClock()
    model_dir = str(tmp_path / "model")
    sync_restore(
        fs, clock, is_chief=True, model_dir=model_dir, restore_dir=str(restore_dir)
    )
    start = clock.monotonic()

    sync_restore(
        fs,
        clock,
        is_chief=False,
        model_dir=model_dir,
        restore_dir=str(restore_dir),
        chief_timeout_secs=10,
    )

    assert clock.monotonic() == start


def test_a_non_chief_gives_up_naming_the_directory_and_the_wait(
    tmp_path: Path, restore_dir: Path
) -> None:
    clock = ManualClock()
    model_dir = tmp_path / "model"
    start = clock.monotonic()

    with pytest.raises(RestoreSyncError) as info:
        sync_restore(
            LocalFileSystem(),
            clock,
            is_chief=False,
            model_dir=str(model_dir),
            restore_dir=str(restore_dir),
            chief_timeout_secs=120,
            poll_secs=5,
        )

    assert str(model_dir / "monolith_checkpoint.json") in str(info.value)
    assert "chief_timeout_secs=120" in str(info.value)
    assert clock.monotonic() - start == pytest.approx(120)


def test_without_restore_dir_nothing_happens(tmp_path: Path) -> None:
    outcome = sync_restore(
        LocalFileSystem(),
        ManualClock(),
        is_chief=False,
        model_dir=str(tmp_path / "m"),
        restore_dir=None,
    )

    assert outcome is None
    assert not (tmp_path / "m").exists()
