"""``monolith checkpoints list|verify`` and ``monolith dump-table``."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.storage.local import LocalFileSystem
from monolith.app.cli.main import cli
from monolith.app.training.estimator import Estimator, TrainSettings
from tests.training_fakes import FakeBackend, planted_batches, tiny_spec

pytestmark = pytest.mark.unit


@pytest.fixture
def model_dir(tmp_path) -> str:
    fs = LocalFileSystem()
    directory = str(tmp_path / "model")
    estimator = Estimator(
        tiny_spec(),
        task="tests.Tiny",
        fs=fs,
        model_dir=directory,
        backend_factory=FakeBackend,
        store_factory=lambda n: LocalParameterStore(n, fs=fs),
        clock=ManualClock(),
        settings=TrainSettings(
            save_checkpoints_steps=5, progress_bar=False, tensorboard=False
        ),
    )
    batches = planted_batches(12, 16, vocab=30)
    estimator.train(lambda i, n: iter(batches), max_steps=12)
    estimator.close()
    return directory


def test_list_prints_one_line_per_checkpoint_oldest_first(model_dir):
    result = CliRunner().invoke(cli, ["checkpoints", "list", model_dir])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "checkpoint-5",
        "checkpoint-10",
        "checkpoint-12",
    ]
    assert all("valid=yes" in line and "task=tests.Tiny" in line for line in lines)


def test_list_with_tables_prints_each_tables_name_rows_and_dim(model_dir):
    result = CliRunner().invoke(cli, ["checkpoints", "list", model_dir, "--tables"])

    assert result.exit_code == 0, result.output
    table_lines = [
        line.strip() for line in result.stdout.splitlines() if "table=" in line
    ]
    assert len(table_lines) == 6
    name, rows, dim = table_lines[-1].split()
    assert name == "table=t_b"
    assert 0 < int(rows.removeprefix("rows=")) <= 30
    assert dim == "dim=1"


def test_verify_passes_and_then_names_a_corrupted_checkpoint(model_dir, tmp_path):
    ok = CliRunner().invoke(cli, ["checkpoints", "verify", model_dir])
    victim = next((tmp_path / "model" / "checkpoint-10.data" / "dense").iterdir())
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")

    bad = CliRunner().invoke(cli, ["checkpoints", "verify", model_dir])

    assert ok.exit_code == 0
    assert ok.stdout.splitlines() == [
        "checkpoint-5 ok",
        "checkpoint-10 ok",
        "checkpoint-12 ok",
    ]
    assert bad.exit_code == 5
    assert "checkpoint-10 invalid:" in bad.output
    assert "1 of 3 checkpoints" in bad.output


def test_list_of_an_empty_directory_is_an_error_naming_it(tmp_path):
    result = CliRunner().invoke(cli, ["checkpoints", "list", str(tmp_path)])

    assert result.exit_code == 5
    assert str(tmp_path) in result.output


def test_dump_table_writes_one_entry_dump_record_per_row(model_dir, tmp_path):
    out = tmp_path / "t_a.tfrecord"

    result = CliRunner().invoke(
        cli,
        ["dump-table", "--checkpoint", model_dir, "--table", "t_a", "--out", str(out)],
    )

    assert result.exit_code == 0, result.output
    from monolith.adapters.data.tfrecord import iter_records
    from monolith.proto.entry_dump_pb2 import EntryDump

    entries = [
        EntryDump.FromString(r) for r in iter_records(LocalFileSystem(), str(out))
    ]
    assert entries
    assert f"rows={len(entries)}" in result.output
    ids = [e.id for e in entries]
    assert len(set(ids)) == len(ids)
    # A table without a bias column dumps bias 0 before its 1-d embedding.
    assert all(len(e.num) == 2 and e.num[0] == 0.0 for e in entries)
    assert np.isfinite([e.num[1] for e in entries]).all()
    assert all(len(e.opt.dump) == 0 for e in entries)  # sgd keeps no state


def test_dump_table_of_an_unknown_table_lists_the_known_ones(model_dir, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "dump-table",
            "--checkpoint",
            model_dir,
            "--table",
            "nope",
            "--out",
            str(tmp_path / "x"),
        ],
    )

    assert result.exit_code != 0
    assert "t_a" in result.output and "t_b" in result.output


def test_entry_dumps_carry_bias_first_then_embedding_and_named_optimizer_state():
    from monolith.app.table_dump import _records
    from monolith.domain.embedding.config import OptimizerConfig, TableConfig
    from monolith.domain.embedding.table_arrays import TableArrays
    from monolith.proto.entry_dump_pb2 import EntryDump

    config = TableConfig("t", 2, optimizer=OptimizerConfig("adagrad"), has_bias=True)
    arrays = TableArrays(
        np.array([-7, 9], np.int64),
        np.array([[0.5, 1.0, 2.0], [0.0, 3.0, 4.0]], np.float32),
        np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], np.float32),
        np.array([100, 200], np.uint32),
    )

    entries = [EntryDump.FromString(r) for r in _records(config, arrays)]

    assert [e.id for e in entries] == [-7, 9]
    assert list(entries[0].num) == [0.5, 1.0, 2.0]
    assert entries[1].last_update_ts_sec == 200
    assert entries[0].opt.dump[0].name == "norm"
    assert list(entries[0].opt.dump[0].value) == pytest.approx([0.1, 0.2, 0.3])
