from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.app.cli.main import cli
from monolith.app.data.datagen import auc, generate
from monolith.app.data.pipeline import make_batches, read_meta
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.fids import slots_of

pytestmark = pytest.mark.unit


def _bytes(fs: InMemoryFileSystem, paths: tuple[str, ...]) -> list[bytes]:
    out = []
    for p in paths:
        with fs.open(p, "rb") as handle:
            out.append(handle.read())
    return out


def test_the_same_seed_gives_identical_files() -> None:
    a, b = InMemoryFileSystem(), InMemoryFileSystem()

    ra = generate(a, "memory://g", 3000, seed=5, shards=2)
    rb = generate(b, "memory://g", 3000, seed=5, shards=2)

    assert _bytes(a, ra.train_files + ra.eval_files) == _bytes(
        b, rb.train_files + rb.eval_files
    )
    assert ra.meta == rb.meta


def test_a_different_seed_gives_different_data() -> None:
    a, b = InMemoryFileSystem(), InMemoryFileSystem()

    ra = generate(a, "memory://g", 500, seed=1)
    rb = generate(b, "memory://g", 500, seed=2)

    assert _bytes(a, ra.train_files) != _bytes(b, rb.train_files)


def test_meta_records_spec_seed_and_a_bayes_auc_above_chance() -> None:
    fs = InMemoryFileSystem()

    generate(fs, "memory://g", 4000, seed=3, slots=5, eval_fraction=0.25)
    meta = read_meta(fs, "memory://g")

    assert meta["seed"] == 3
    assert meta["feature_spec"]["sparse"] == [f"slot_{i}" for i in range(1, 6)]
    assert meta["train_rows"] + meta["eval_rows"] == 4000
    assert 0.6 < meta["bayes_auc_eval"] < 1.0
    assert 0.6 < meta["bayes_auc_train"] < 1.0


def test_generated_data_decodes_with_v2_fids_in_their_slots() -> None:
    fs = InMemoryFileSystem()
    generate(fs, "memory://g", 1000, seed=0, slots=4)
    spec = FeatureSpec.from_dict(read_meta(fs, "memory://g")["feature_spec"])

    batch = next(iter(make_batches(fs, "memory://g/train-*", spec, 256)))

    for s, name in enumerate(spec.sparse, start=1):
        assert set(slots_of(batch.sparse[name].values).tolist()) == {s}
    assert set(batch.label.tolist()) <= {0.0, 1.0}
    assert batch.dense.shape == (256, 3)
    assert np.diff(batch.sparse["slot_4"].row_splits).max() <= 3


def test_auc_counts_ties_as_half() -> None:
    assert auc(np.array([0, 1]), np.array([0.0, 1.0])) == 1.0
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.2, 0.3])) == 0.75


def test_datagen_then_inspect_verify_works_from_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    runner = CliRunner()

    made = runner.invoke(
        cli,
        [
            "datagen",
            "--out",
            str(out),
            "--rows",
            "2000",
            "--seed",
            "1",
            "--shards",
            "2",
        ],
    )
    inspected = runner.invoke(
        cli, ["data", "inspect", f"{out}/train-*", "--verify", "--show", "1"]
    )

    assert made.exit_code == 0, made.output
    assert "bayes_auc_eval=" in made.output
    assert json.loads((out / "meta.json").read_text())["rows"] == 2000
    assert inspected.exit_code == 0, inspected.output
    assert "crc=ok" in inspected.output
    assert "slot_1: int64_list" in inspected.output


def test_inspect_verify_exits_non_zero_naming_file_and_offset(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    runner = CliRunner()
    runner.invoke(cli, ["datagen", "--out", str(out), "--rows", "200", "--seed", "1"])
    victim = out / "train-00000-of-00001.tfrecord"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))

    result = runner.invoke(cli, ["data", "inspect", str(victim), "--verify"])

    assert result.exit_code == 4
    assert str(victim) in result.output
    assert "byte offset 0" in result.output


def test_inspect_of_a_missing_pattern_is_an_error_naming_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["data", "inspect", f"{tmp_path}/none-*"])

    assert result.exit_code == 3
    assert "none-*" in result.output
