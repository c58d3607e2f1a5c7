"""Serving and export values: request checks, delta versions, settings, layout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monolith.domain.batch import RaggedFids
from monolith.domain.errors import ConfigError, UsageError
from monolith.domain.export_layout import (
    check_relative_asset,
    is_inside,
    newest_version,
    parse_format,
    parse_version,
)
from monolith.domain.export_validation import judge
from monolith.domain.quantization import ErrorStats
from monolith.domain.serve_settings import merge_serve_settings
from monolith.domain.serving import (
    PredictRequest,
    RequestLimits,
    delta_is_newer,
    validate_request,
)

pytestmark = pytest.mark.unit

SLOTS = ("a", "b")


def _request(**overrides: object) -> PredictRequest:
    values: dict[str, object] = {
        "slots": {
            "a": RaggedFids.from_lists([[1, 2], []]),
            "b": RaggedFids.from_lists([[3], [4]]),
        },
        "dense": np.zeros(4, dtype=np.float32),
        "batch_size": 2,
    }
    values.update(overrides)
    return PredictRequest(**values)  # type: ignore[arg-type]


def test_a_well_formed_request_passes() -> None:
    validate_request(_request(), SLOTS, 2, RequestLimits())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 0}, "batch_size must be positive"),
        ({"batch_size": 9}, "batch_size 9 exceeds the server's limit of 8"),
        ({"slots": {"a": RaggedFids.from_lists([[1], []])}}, "slots is missing b"),
        (
            {
                "slots": {
                    "a": RaggedFids.from_lists([[1], []]),
                    "b": RaggedFids.from_lists([[1], []]),
                    "c": RaggedFids.from_lists([[1], []]),
                }
            },
            "slots has unknown c",
        ),
        (
            {
                "slots": {
                    "a": RaggedFids(np.array([1, 2]), np.array([0, 2, 1])),
                    "b": RaggedFids.from_lists([[3], [4]]),
                }
            },
            "slots[a].row_splits must end at len(values) = 2",
        ),
        (
            {
                "slots": {
                    "a": RaggedFids(np.array([1, 2]), np.array([0, 2])),
                    "b": RaggedFids.from_lists([[3], [4]]),
                }
            },
            "slots[a].row_splits must have batch_size + 1 = 3 entries",
        ),
        (
            {
                "slots": {
                    "a": RaggedFids(np.array([1, 2]), np.array([1, 2, 2])),
                    "b": RaggedFids.from_lists([[3], [4]]),
                }
            },
            "slots[a].row_splits must start at 0",
        ),
        (
            {
                "slots": {
                    "a": RaggedFids(np.array([1, 2]), np.array([0, 3, 2])),
                    "b": RaggedFids.from_lists([[3], [4]]),
                }
            },
            "must be non-decreasing",
        ),
        ({"dense": np.zeros(3, dtype=np.float32)}, "dense must hold batch_size x 2"),
        (
            {"dense": np.array([0, np.nan, 0, 0], dtype=np.float32)},
            "dense must hold finite floats",
        ),
    ],
    ids=[
        "no-batch",
        "over-limit",
        "missing-slot",
        "unknown-slot",
        "splits-end",
        "splits-length",
        "splits-start",
        "splits-order",
        "dense-size",
        "dense-nan",
    ],
)
def test_a_malformed_request_is_refused_naming_the_field(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        validate_request(_request(**overrides), SLOTS, 2, RequestLimits(max_batch=8))

    assert message in str(caught.value)


def test_too_many_fids_are_refused() -> None:
    with pytest.raises(UsageError, match="slots hold 4 fids, more than .* 3"):
        validate_request(_request(), SLOTS, 2, RequestLimits(max_fids=3))


@pytest.mark.parametrize(
    ("last", "version", "applies"),
    [(None, 0, True), (3, 4, True), (3, 3, False), (3, 2, False)],
    ids=["first", "newer", "replay", "out-of-order"],
)
def test_only_newer_delta_versions_apply(
    last: int | None, version: int, applies: bool
) -> None:
    assert delta_is_newer(last, version) is applies


def test_serve_settings_cli_beats_file_beats_defaults() -> None:
    settings = merge_serve_settings(
        {"export_dir": "/e", "port": 9000, "workers": 2},
        {"port": 9100},
    )

    assert (settings.export_dir, settings.port, settings.workers) == ("/e", 9100, 2)
    assert settings.host == "127.0.0.1"
    assert settings.grace == 10.0


@pytest.mark.parametrize(
    ("file_values", "cli_values", "message"),
    [
        ({}, {}, "serve needs --export-dir"),
        ({"export_dir": "/e", "bogus": 1}, {}, "unknown serve setting 'bogus'"),
        ({"export_dir": "/e", "port": "80"}, {}, "serve.port must be int"),
        ({"export_dir": "/e"}, {"tls_cert": "c"}, "TLS needs both"),
        ({"export_dir": "/e"}, {"workers": 0}, "serve.workers must be positive"),
        ({"export_dir": "/e"}, {"port": 70000}, "serve.port must be in 0..65535"),
    ],
    ids=["no-dir", "unknown", "mistyped", "half-tls", "no-workers", "port-range"],
)
def test_bad_serve_settings_are_config_errors(
    file_values: dict[str, object], cli_values: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        merge_serve_settings(file_values, cli_values)


def test_newest_version_compares_numerically_and_ignores_other_names() -> None:
    names = ["9", "10", ".tmp-11-ab", ".rejected-12", "abc", "2"]

    assert newest_version(names) == 10
    assert newest_version(["x"]) is None


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "ONNX"])
def test_onnx_and_torchscript_list_the_supported_formats(fmt: str) -> None:
    with pytest.raises(UsageError, match="supported formats: monolith, saved_model"):
        parse_format(fmt)


def test_model_versions_must_be_integers() -> None:
    assert parse_version("0042") == 42
    with pytest.raises(UsageError, match="non-negative integer"):
        parse_version("v1")


@pytest.mark.parametrize(
    ("path", "inside"),
    [("/a/b", True), ("/a/b/c", True), ("/a/bc", False), ("/a", False)],
)
def test_is_inside_compares_path_components(path: str, inside: bool) -> None:
    assert is_inside("/a/b", path) is inside


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", ""])
def test_warmup_names_that_escape_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="escapes the export directory"):
        check_relative_asset(name)


def test_the_validation_report_fails_when_either_error_passes_the_bound() -> None:
    stats = ErrorStats(0.02, 0.001, 10)

    report = judge(8, stats, 0.001, 0.01, 64, "given inputs")

    assert not report.passed
    assert report.failures == ("embedding_max_abs_error 0.02 exceeds 0.01",)
    data = json.loads(report.to_json())
    assert data["passed"] is False and data["bound"] == 0.01


def test_an_infinite_error_is_written_as_text_and_fails() -> None:
    report = judge(16, ErrorStats(float("inf"), float("inf"), 1), 0.0, 1.0, 1, "x")

    assert not report.passed
    assert json.loads(report.to_json())["embedding_max_abs_error"] == "inf"
