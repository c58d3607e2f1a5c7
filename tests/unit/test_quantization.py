"""Quantization of embedding rows: error bounds, rounding and validation of bits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from monolith.domain.errors import QuantizationError, UsageError
from monolith.domain.quantization import (
    abs_error,
    combine_errors,
    dequantize_rows,
    parse_bits,
    quantize_fp16,
    quantize_int8,
    quantize_rows,
    round_half_away_from_zero,
)

pytestmark = pytest.mark.unit

finite_rows = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
    elements=st.floats(-1e4, 1e4, width=32, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=150, deadline=None)
@given(finite_rows)
def test_int8_error_of_every_element_is_at_most_half_its_row_scale(
    rows: np.ndarray,
) -> None:
    q = quantize_int8(rows)

    decoded = dequantize_rows(q)

    assert q.values.dtype == np.int8
    assert q.scales is not None
    bound = q.scales[:, None] / 2 * (1 + 1e-5) + 1e-30
    assert np.all(np.abs(decoded - rows) <= bound)
    assert np.all(np.abs(q.values.astype(np.int32)) <= 127)


@settings(max_examples=150, deadline=None)
@given(finite_rows)
def test_int8_scale_is_the_row_max_abs_over_127(rows: np.ndarray) -> None:
    q = quantize_int8(rows)

    expected = np.max(np.abs(rows), axis=1) / np.float32(127)

    assert q.scales is not None
    np.testing.assert_allclose(q.scales, expected, rtol=1e-6)


@settings(max_examples=150, deadline=None)
@given(finite_rows)
def test_fp16_relative_error_is_within_half_an_ulp(rows: np.ndarray) -> None:
    q = quantize_fp16(rows)

    decoded = dequantize_rows(q)

    assert q.values.dtype == np.float16
    tolerance = np.abs(rows) * 2.0**-11 + 2.0**-25
    assert np.all(np.abs(decoded - rows) <= tolerance)


@settings(max_examples=100, deadline=None)
@given(finite_rows)
def test_error_stats_report_the_largest_and_mean_difference(rows: np.ndarray) -> None:
    decoded = dequantize_rows(quantize_int8(rows))

    stats = abs_error(rows, decoded)

    diff = np.abs(rows.astype(np.float64) - decoded.astype(np.float64))
    assert stats.max_abs_error == pytest.approx(float(diff.max()))
    assert stats.mean_abs_error == pytest.approx(float(diff.mean()))
    assert stats.count == rows.size


def test_ties_round_away_from_zero() -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49], dtype=np.float32)

    assert round_half_away_from_zero(x).tolist() == [1, 2, 3, -1, -3, 0]


def test_the_largest_element_of_a_row_maps_to_plus_or_minus_127() -> None:
    rows = np.array([[0.5, -1.0, 0.25], [2.0, 1.0, 0.0]], dtype=np.float32)

    q = quantize_int8(rows)

    assert q.values.tolist() == [[64, -127, 32], [127, 64, 0]]


def test_an_all_zero_row_has_scale_zero_and_decodes_to_zeros() -> None:
    rows = np.zeros((2, 4), dtype=np.float32)

    q = quantize_int8(rows)

    assert q.scales is not None and q.scales.tolist() == [0.0, 0.0]
    assert dequantize_rows(q).tolist() == rows.tolist()


def test_int8_refuses_non_finite_rows_naming_the_row() -> None:
    rows = np.array([[1.0, 2.0], [np.nan, 0.0]], dtype=np.float32)

    with pytest.raises(QuantizationError, match="row 1"):
        quantize_int8(rows)


def test_fp16_overflow_shows_up_as_an_infinite_error() -> None:
    rows = np.array([[1e6, 1.0]], dtype=np.float32)

    stats = abs_error(rows, dequantize_rows(quantize_fp16(rows)))

    assert stats.max_abs_error == float("inf")


def test_dequantize_with_an_index_gathers_only_those_rows() -> None:
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    q = quantize_rows(rows, 8)

    picked = dequantize_rows(q, np.array([3, 0], dtype=np.int64))

    np.testing.assert_allclose(picked, dequantize_rows(q)[[3, 0]])


@pytest.mark.parametrize(
    ("value", "bits"),
    [(None, 32), ("8", 8), (16, 16), (" 16 ", 16)],
    ids=["unset", "eight", "sixteen-int", "padded"],
)
def test_parse_bits_accepts_8_and_16(value: object, bits: int) -> None:
    assert parse_bits(value) == bits  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["4", "32", "int8", "-8"])
def test_parse_bits_names_the_accepted_values(value: str) -> None:
    with pytest.raises(UsageError, match="accepted values: 8, 16"):
        parse_bits(value)


def test_combined_errors_weight_the_mean_by_element_count() -> None:
    a = abs_error(np.zeros((1, 2)), np.ones((1, 2)))
    b = abs_error(np.zeros((1, 6)), np.full((1, 6), 3.0))

    total = combine_errors([a, b])

    assert total.max_abs_error == 3.0
    assert total.mean_abs_error == pytest.approx((2 * 1 + 6 * 3) / 8)
    assert total.count == 8
