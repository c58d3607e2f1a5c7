"""The serving table: lookups at export precision and in-place deltas."""

from __future__ import annotations

import numpy as np
import pytest

from monolith.domain.errors import UsageError
from monolith.domain.quantization import quantize_rows
from monolith.domain.serving_table import ServingTable

pytestmark = pytest.mark.unit


def _table(bits: int = 32) -> tuple[ServingTable, np.ndarray, np.ndarray]:
    fids = np.array([7, -3, 1 << 50, 2], dtype=np.int64)
    rows = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    return ServingTable("t", fids, quantize_rows(rows, bits)), fids, rows


def test_lookup_returns_rows_in_request_order_and_zeros_for_missing_fids() -> None:
    table, _, rows = _table()

    got = table.lookup(np.array([2, 99, 7, -3], dtype=np.int64))

    np.testing.assert_allclose(got, [rows[3], [0, 0, 0], rows[0], rows[1]])


@pytest.mark.parametrize("bits", [16, 8])
def test_quantized_lookups_stay_close_to_the_original_rows(bits: int) -> None:
    table, fids, rows = _table(bits)

    got = table.lookup(fids)

    np.testing.assert_allclose(got, rows, atol=1.1 / 254)


def test_a_delta_overwrites_existing_rows_and_inserts_new_fids() -> None:
    table, _, rows = _table()

    table.apply(
        np.array([-3, 50, 51], dtype=np.int64),
        np.array([[1, 1, 1], [2, 2, 2], [3, 3, 3]], dtype=np.float32),
    )

    got = table.lookup(np.array([-3, 50, 51, 7], dtype=np.int64))
    np.testing.assert_allclose(got, [[1, 1, 1], [2, 2, 2], [3, 3, 3], rows[0]])
    assert len(table) == 6


def test_the_last_duplicate_of_a_fid_in_a_delta_wins() -> None:
    table, _, _ = _table()

    table.apply(
        np.array([9, 9], dtype=np.int64),
        np.array([[1, 1, 1], [5, 5, 5]], dtype=np.float32),
    )

    np.testing.assert_allclose(table.lookup(np.array([9])), [[5, 5, 5]])


def test_many_deltas_grow_the_table_and_keep_every_row() -> None:
    table, _, _ = _table(8)
    expected = {}

    for start in range(0, 300, 30):
        fids = np.arange(start, start + 30, dtype=np.int64) + 1000
        rows = np.random.default_rng(start).normal(size=(30, 3)).astype(np.float32)
        table.apply(fids, rows)
        expected.update(zip(fids.tolist(), rows, strict=True))

    keys = np.array(sorted(expected), dtype=np.int64)
    want = np.stack([expected[k] for k in keys.tolist()])
    np.testing.assert_allclose(table.lookup(keys), want, atol=0.05)


def test_a_delta_of_the_wrong_width_is_refused() -> None:
    table, _, _ = _table()

    with pytest.raises(UsageError, match=r"rows must be \[1, 3\]"):
        table.apply(np.array([1]), np.zeros((1, 4), dtype=np.float32))
