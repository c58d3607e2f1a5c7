"""``monolith export`` through the CLI on real checkpoints (decision 13)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from monolith.adapters.clock.system import SystemClock
from monolith.adapters.storage.local import LocalFileSystem
from monolith.app.cli.main import cli
from monolith.app.export.exporter import ExportRequest, export_model
from monolith.app.export.wiring import local_store, run_export
from monolith.app.serving.backends import make_compute
from monolith.app.serving.model import load_export
from monolith.domain.batch import RaggedFids
from monolith.domain.errors import QuantizationError
from monolith.domain.serving import PredictRequest
from tests.serving_support.checkpoints import write_checkpoint

pytestmark = pytest.mark.integration


def _export(*args: str) -> Result:
    return CliRunner().invoke(cli, ["export", *args])


@pytest.fixture()
def model_dir(tmp_path: Path) -> str:
    path = str(tmp_path / "model")
    write_checkpoint(path, step=10)
    write_checkpoint(path, step=30)
    return path


def test_a_model_dir_exports_its_newest_checkpoint_as_version_step(
    model_dir: str, tmp_path: Path
) -> None:
    out = tmp_path / "exports"

    result = _export("--checkpoint", model_dir, "--output", str(out))

    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ["30"]
    manifest = json.loads((out / "30" / "export.json").read_text())
    assert manifest["step"] == 30
    assert manifest["quantize_bits"] == 32
    assert {t["name"] for t in manifest["tables"]} == {"user", "item"}
    assert (out / "30" / "model_spec.json").exists()
    assert (out / "30" / "tables" / "user" / "values.npy").exists()
    assert "version=30" in result.output


def test_a_manifest_path_exports_that_checkpoint_under_the_given_version(
    model_dir: str, tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    manifest = os.path.join(model_dir, "checkpoint-10.json")

    result = _export(
        "--checkpoint", manifest, "--output", str(out), "--model-version", "7"
    )

    assert result.exit_code == 0, result.output
    assert json.loads((out / "7" / "export.json").read_text())["step"] == 10


def test_exported_tables_hold_rows_but_no_optimizer_state(
    model_dir: str, tmp_path: Path
) -> None:
    out = tmp_path / "exports"

    _export("--checkpoint", model_dir, "--output", str(out))

    files = sorted(p.name for p in (out / "30" / "tables" / "user").iterdir())
    assert files == ["fids.npy", "values.npy"]
    values = np.load(out / "30" / "tables" / "user" / "values.npy")
    assert values.shape == (200, 8)


@pytest.mark.parametrize(("bits", "dtype"), [("16", "float16"), ("8", "int8")])
def test_quantized_exports_write_validation_json_with_small_errors(
    model_dir: str, tmp_path: Path, bits: str, dtype: str
) -> None:
    out = tmp_path / "exports"

    result = _export(
        "--checkpoint", model_dir, "--output", str(out), "--quantize", bits
    )

    assert result.exit_code == 0, result.output
    report = json.loads((out / "30" / "validation.json").read_text())
    assert report["passed"] is True
    assert report["quantize_bits"] == int(bits)
    assert 0 < report["embedding_max_abs_error"] <= report["bound"]
    assert 0 <= report["embedding_mean_abs_error"] <= report["embedding_max_abs_error"]
    assert 0 <= report["prediction_max_abs_diff"] <= report["bound"]
    assert report["validation_examples"] == 256
    values = np.load(out / "30" / "tables" / "user" / "values.npy")
    assert values.dtype == np.dtype(dtype)


def test_int8_tables_carry_one_scale_per_row(model_dir: str, tmp_path: Path) -> None:
    out = tmp_path / "exports"

    _export("--checkpoint", model_dir, "--output", str(out), "--quantize", "8")

    scales = np.load(out / "30" / "tables" / "item" / "scales.npy")
    assert scales.shape == (200,)
    assert scales.dtype == np.float32


def test_a_quantized_export_over_the_bound_is_not_published(
    tmp_path: Path,
) -> None:
    model = str(tmp_path / "model")
    write_checkpoint(model, step=5, scale=50.0)
    out = tmp_path / "exports"

    result = _export(
        "--checkpoint",
        model,
        "--output",
        str(out),
        "--quantize",
        "8",
        "--max-error",
        "0.00001",
    )

    assert result.exit_code == 10
    assert "failed validation" in result.output
    assert "embedding_max_abs_error" in result.output
    assert not (out / "5").exists()
    rejected = json.loads((out / ".rejected-5" / "validation.json").read_text())
    assert rejected["passed"] is False
    assert rejected["bound"] == 0.00001


def test_the_library_call_raises_quantization_error_over_the_bound(
    tmp_path: Path,
) -> None:
    model = str(tmp_path / "model")
    write_checkpoint(model, step=5, scale=50.0)
    fs = LocalFileSystem()

    with pytest.raises(QuantizationError, match="not published"):
        export_model(
            ExportRequest(
                str(model), str(tmp_path / "x"), quantize_bits=16, max_error=0.0
            ),
            fs,
            lambda _spec: local_store(fs),
            make_compute,
            SystemClock(),
        )


@pytest.mark.parametrize("value", ["4", "32", "int8"])
def test_an_invalid_quantize_value_names_the_accepted_ones(
    model_dir: str, tmp_path: Path, value: str
) -> None:
    result = _export(
        "--checkpoint", model_dir, "--output", str(tmp_path / "o"), "--quantize", value
    )

    assert result.exit_code == 2
    assert "accepted values: 8, 16" in result.output


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_onnx_and_torchscript_are_refused_listing_the_supported_formats(
    model_dir: str, tmp_path: Path, fmt: str
) -> None:
    result = _export(
        "--checkpoint", model_dir, "--output", str(tmp_path / "o"), "--format", fmt
    )

    assert result.exit_code == 2
    assert f"--format {fmt} is not supported" in result.output
    assert "supported formats: monolith, saved_model" in result.output
    assert not (tmp_path / "o").exists()


def test_saved_model_of_a_torch_checkpoint_is_refused(
    model_dir: str, tmp_path: Path
) -> None:
    result = _export(
        "--checkpoint",
        model_dir,
        "--output",
        str(tmp_path / "o"),
        "--format",
        "saved_model",
    )

    assert result.exit_code == 2
    assert "needs a checkpoint of the tf backend" in result.output


def test_a_missing_checkpoint_fails_naming_the_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")

    result = _export("--checkpoint", missing, "--output", str(tmp_path / "o"))

    assert result.exit_code != 0
    assert missing in result.output
    assert "does not exist" in result.output


def test_an_empty_model_dir_fails_naming_the_dir(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    result = _export("--checkpoint", str(empty), "--output", str(tmp_path / "o"))

    assert result.exit_code == 5
    assert str(empty) in result.output
    assert "no valid checkpoint" in result.output


def test_an_existing_version_is_an_error_unless_overwrite(
    model_dir: str, tmp_path: Path
) -> None:
    out = str(tmp_path / "exports")
    _export("--checkpoint", model_dir, "--output", out)

    again = _export("--checkpoint", model_dir, "--output", out)
    replaced = _export(
        "--checkpoint", model_dir, "--output", out, "--overwrite", "--quantize", "16"
    )

    assert again.exit_code == 3
    assert "already exists" in again.output and "--overwrite" in again.output
    assert replaced.exit_code == 0, replaced.output
    manifest = json.loads((tmp_path / "exports" / "30" / "export.json").read_text())
    assert manifest["quantize_bits"] == 16
    assert sorted(os.listdir(out)) == ["30"]


def test_no_temp_directory_is_left_after_an_export(
    model_dir: str, tmp_path: Path
) -> None:
    out = tmp_path / "exports"

    _export("--checkpoint", model_dir, "--output", str(out), "--quantize", "8")

    assert [n for n in os.listdir(out) if n.startswith(".")] == []


def test_a_warmup_file_is_copied_to_assets_extra(
    model_dir: str, tmp_path: Path
) -> None:
    warmup = tmp_path / "warmup.tfrecord"
    warmup.write_bytes(b"requests")
    out = tmp_path / "exports"

    result = _export(
        "--checkpoint", model_dir, "--output", str(out), "--warmup", str(warmup)
    )

    assert result.exit_code == 0, result.output
    copied = out / "30" / "assets.extra" / "tf_serving_warmup_requests"
    assert copied.read_bytes() == b"requests"
    manifest = json.loads((out / "30" / "export.json").read_text())
    assert manifest["warmup_files"] == ["assets.extra/tf_serving_warmup_requests"]


def test_a_warmup_symlink_out_of_its_directory_is_refused(
    model_dir: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not ship")
    warmup_dir = tmp_path / "warmup"
    warmup_dir.mkdir()
    (warmup_dir / "ok.req").write_bytes(b"fine")
    (warmup_dir / "leak.req").symlink_to(secret)
    out = tmp_path / "exports"

    result = _export(
        "--checkpoint", model_dir, "--output", str(out), "--warmup", str(warmup_dir)
    )

    assert result.exit_code == 2
    assert "symlink" in result.output and "outside" in result.output
    assert not (out / "30").exists()


def test_a_warmup_directory_keeps_relative_paths_inside_assets_extra(
    model_dir: str, tmp_path: Path
) -> None:
    warmup_dir = tmp_path / "warmup"
    (warmup_dir / "a").mkdir(parents=True)
    (warmup_dir / "a" / "one.req").write_bytes(b"1")
    (warmup_dir / "a" / "inside.req").symlink_to(warmup_dir / "a" / "one.req")
    out = tmp_path / "exports"

    result = _export(
        "--checkpoint", model_dir, "--output", str(out), "--warmup", str(warmup_dir)
    )

    assert result.exit_code == 0, result.output
    extra = out / "30" / "assets.extra" / "a"
    assert (extra / "one.req").read_bytes() == b"1"
    assert (extra / "inside.req").read_bytes() == b"1"
    assert not (extra / "inside.req").is_symlink()


def test_the_exported_model_scores_like_the_checkpoint(
    model_dir: str, tmp_path: Path
) -> None:
    result = run_export(ExportRequest(model_dir, str(tmp_path / "e")))
    model = load_export(result.path, make_compute)
    request = PredictRequest(
        slots={
            "user_id": RaggedFids.from_lists([[-50, -43], [999]]),
            "item_id": RaggedFids.from_lists([[-36], []]),
        },
        dense=np.ones(6, dtype=np.float32),
        batch_size=2,
    )

    scores = model.predict(request)

    assert scores.shape == (2,)
    assert np.all((scores > 0) & (scores < 1))
    assert not np.isclose(scores[0], scores[1])


@pytest.mark.slow
def test_saved_model_format_writes_a_callable_tensorflow_saved_model(
    tmp_path: Path,
) -> None:
    tf = pytest.importorskip("tensorflow")
    model = str(tmp_path / "model")
    write_checkpoint(model, step=4, backend="tf")
    out = tmp_path / "exports"

    result = _export(
        "--checkpoint",
        model,
        "--output",
        str(out),
        "--format",
        "saved_model",
        "--quantize",
        "8",
    )

    assert result.exit_code == 0, result.output
    loaded = tf.saved_model.load(str(out / "4"))
    outputs = loaded.signatures["serving_default"](
        user_id_values=tf.constant([-50, -43, 999], tf.int64),
        user_id_row_splits=tf.constant([0, 2, 3], tf.int64),
        item_id_values=tf.constant([-36, 1], tf.int64),
        item_id_row_splits=tf.constant([0, 1, 2], tf.int64),
        dense=tf.ones([2, 3]),
    )
    served = load_export(str(out / "4"), make_compute).predict(
        PredictRequest(
            slots={
                "user_id": RaggedFids.from_lists([[-50, -43], [999]]),
                "item_id": RaggedFids.from_lists([[-36], [1]]),
            },
            dense=np.ones(6, dtype=np.float32),
            batch_size=2,
        )
    )
    np.testing.assert_allclose(outputs["scores"].numpy(), served, rtol=1e-5, atol=1e-6)
