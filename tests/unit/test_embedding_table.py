"""The collisionless embedding table: lookups, inserts, filter, expiry (§13.1)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.embedding.config import (
    InitializerConfig,
    OptimizerConfig,
    TableConfig,
)
from monolith.domain.embedding.hash_index import HashIndex
from monolith.domain.embedding.occurrence_filter import OccurrenceFilter
from monolith.domain.embedding.row_ops import (
    as_block,
    has_duplicates,
    strictly_increasing,
)
from monolith.domain.embedding.table import EmbeddingTable
from monolith.domain.errors import UsageError

pytestmark = pytest.mark.unit

ZEROS = InitializerConfig("zeros")


def sgd_table(dim: int = 1, lr: float = 0.1, **kwargs: object) -> EmbeddingTable:
    config = TableConfig(
        "t",
        dim=dim,
        initializer=ZEROS,
        optimizer=OptimizerConfig("sgd", learning_rate=lr),
        **kwargs,  # type: ignore[arg-type]
    )
    return EmbeddingTable(config)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-(2**63), 2**63 - 1), unique=True, max_size=300),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=100),
)
def test_index_finds_every_inserted_key_and_nothing_else(
    inserted: list[int], probes: list[int]
) -> None:
    index = HashIndex()
    keys = np.array(inserted, dtype=np.int64)

    for start in range(0, len(keys), 37):
        index.insert_new(keys[start : start + 37])

    rows = index.find(keys)
    assert np.array_equal(rows, np.arange(len(keys)))
    expected = {key: row for row, key in enumerate(inserted)}
    found = index.find(np.array(probes, dtype=np.int64))
    assert found.tolist() == [expected.get(p, -1) for p in probes]
    assert np.array_equal(index.row_keys(), keys)


def _keys_homed_at_slot_zero(count: int, bits: int) -> np.ndarray:
    """Keys whose Fibonacci hash puts them all in slot 0 of ``2**bits``."""
    golden, found, key = 0x9E3779B97F4A7C15, [], 1
    while len(found) < count:
        if ((key * golden) % 2**64) >> (64 - bits) == 0:
            found.append(key)
        key += 1
    return np.array(found, dtype=np.int64)


def test_index_finds_keys_at_the_end_of_a_probe_chain_longer_than_a_window() -> None:
    keys = _keys_homed_at_slot_zero(12, bits=5)  # 32 slots hold up to 22 rows
    index = HashIndex(expected_rows=20)
    index.insert_new(keys[:11])  # one chain of 11 slots: beyond PROBE_WINDOW

    assert index.find(keys[:11][::-1]).tolist() == list(range(10, -1, -1))
    assert index.find(keys[11:]).tolist() == [-1]  # absent, same home slot
    assert index.find(np.concatenate([keys[10:], keys[:1]])).tolist() == [10, -1, 0]


def test_keys_competing_for_one_slot_fill_one_gapless_chain() -> None:
    keys = _keys_homed_at_slot_zero(20, bits=6)  # 64 slots hold up to 44 rows
    index = HashIndex(expected_rows=40)

    index.insert_new(keys[:3])
    index.insert_new(keys[3:])  # 17 more, all claiming the same slots at once

    assert index.find(keys).tolist() == list(range(20))
    occupied = index.slots[:, 1] > 0
    assert occupied[:20].all() and not occupied[20:].any()  # no gap to stop a find


def test_a_large_batch_is_found_by_single_probes_then_windows() -> None:
    index = HashIndex()
    keys = np.random.default_rng(4).integers(-(2**62), 2**62, 50_000)
    keys = np.unique(keys)
    index.insert_new(keys)
    probes = np.concatenate([keys[::-1], keys[:100] + 1])

    found = index.find(probes)

    assert np.array_equal(found[: keys.size], np.arange(keys.size)[::-1])
    expected_absent = ~np.isin(keys[:100] + 1, keys)
    assert np.array_equal(found[keys.size :] == -1, expected_absent)


def test_index_keeps_rows_when_it_doubles() -> None:
    index = HashIndex()
    keys = np.arange(0, 10_000, dtype=np.int64) * 7919 - 5000

    first = index.insert_new(keys[:10])
    index.insert_new(keys[10:])

    assert np.array_equal(index.find(keys[:10]), first)
    assert np.array_equal(index.find(keys), np.arange(10_000))


def test_lookup_of_missing_fids_reads_zeros_and_inserts_nothing() -> None:
    table = EmbeddingTable(TableConfig("t", dim=4))

    rows = table.lookup(np.array([5, -7], dtype=np.int64))

    assert np.array_equal(rows, np.zeros((2, 4), np.float32))
    assert len(table) == 0


def test_sgd_with_duplicate_ids_sums_gradients_before_the_update() -> None:
    # hash_table_ops_test: SGD lr 0.1, loss -emb on ids [0,1,0,1,0].
    table = sgd_table(dim=10)

    table.apply_gradients(np.array([0, 1, 0, 1, 0]), -np.ones((5, 10)), 1, 0)

    got = table.lookup(np.array([0, 1, 2]))
    np.testing.assert_allclose(got[0], [0.3] * 10, rtol=1e-6)
    np.testing.assert_allclose(got[1], [0.2] * 10, rtol=1e-6)
    assert not got[2].any()
    assert len(table) == 2  # each new fid inserted once


def test_new_fids_in_any_order_get_one_row_each_and_their_own_values() -> None:
    table = sgd_table(dim=2)
    fids = np.array([90, 3, 41, 7], dtype=np.int64)  # distinct, unsorted

    table.apply_gradients(fids, -np.arange(8, dtype=np.float32).reshape(4, 2), 1, 0)

    assert len(table) == 4
    got = table.lookup(np.array([7, 41, 3, 90]))
    np.testing.assert_allclose(got, 0.1 * np.array([[6, 7], [4, 5], [2, 3], [0, 1]]))


def test_occurrence_threshold_admits_a_fid_on_its_fourth_sighting() -> None:
    # hash_table_ops_test: threshold 3, ids [0, 0, 1] each step.
    table = sgd_table(occurrence_threshold=3)
    expected = [[0.0, 0.0], [0.1, 0.0], [0.3, 0.0], [0.5, 0.1]]

    seen = []
    for step in range(4):
        table.apply_gradients(np.array([0, 0, 1]), -np.ones((3, 1)), step, 0)
        seen.append(table.lookup(np.array([0, 1]))[:, 0].tolist())

    np.testing.assert_allclose(seen, expected, atol=1e-6)


def test_filter_intercepts_gradients_per_occurrence() -> None:
    # hash_filter_ops_test: threshold 3 on ids [1, 3 << 17, 1], unit gradients.
    table = sgd_table(lr=1.0, occurrence_threshold=3)
    ids = np.array([1, 3 << 17, 1])

    values = []
    for step in range(4):
        before = table.lookup(ids)
        table.apply_gradients(ids, -np.ones((3, 1)), step, 0)
        values.append((table.lookup(ids) - before)[:, 0].tolist())

    # step 1: nothing; step 2: one occurrence of id 1; step 3: both id-1
    # rows; step 4: every row (3 << 17 sees its 4th sighting).
    assert values == [[0, 0, 0], [1, 0, 1], [2, 0, 2], [2, 1, 2]]


def test_filter_ignores_fids_already_in_the_table() -> None:
    table = sgd_table(lr=1.0, occurrence_threshold=2)
    table.assign(np.array([9]), np.zeros((1, 1)), 0)

    table.apply_gradients(np.array([9]), -np.ones((1, 1)), 1, 0)

    assert table.lookup(np.array([9]))[0, 0] == 1.0


def test_counters_saturate_so_a_threshold_of_fifteen_still_admits() -> None:
    table = sgd_table(lr=1.0, occurrence_threshold=15)

    table.apply_gradients(np.full(15, 4), -np.ones((15, 1)), 1, 0)
    before = table.lookup(np.array([4]))[0, 0]
    table.apply_gradients(np.full(2, 4), -np.ones((2, 1)), 2, 0)

    assert before == 0.0
    assert table.lookup(np.array([4]))[0, 0] == 2.0


def test_rows_are_deterministic_per_seed_and_fid() -> None:
    config = TableConfig("t", dim=8, initializer=InitializerConfig("gaussian", 0.1, 7))
    first, second = EmbeddingTable(config), EmbeddingTable(config)
    zero = np.zeros((3, 8), np.float32)

    first.apply_gradients(np.array([1, 2, 3]), zero, 1, 0)
    second.apply_gradients(np.array([3]), zero[:1], 1, 0)
    second.apply_gradients(np.array([2, 1]), zero[:2], 1, 0)

    fids = np.array([1, 2, 3])
    assert np.array_equal(first.lookup(fids), second.lookup(fids))
    assert np.std(first.lookup(fids)) > 0.0


def test_uniform_rows_stay_within_scale_and_bias_starts_at_zero() -> None:
    config = TableConfig(
        "t", dim=16, initializer=InitializerConfig("uniform", 0.05, 1), has_bias=True
    )
    table = EmbeddingTable(config)
    fids = np.arange(500)

    table.assign(fids[:0], np.zeros((0, 17)), 0)
    table.apply_gradients(fids, np.zeros((500, 17), np.float32), 1, 0)

    rows = table.lookup(fids)
    assert rows.shape == (500, 17)
    assert not rows[:, 0].any()
    assert np.abs(rows[:, 1:]).max() <= 0.05
    assert rows[:, 1:].min() < -0.04 and rows[:, 1:].max() > 0.04


def test_gradients_with_the_wrong_width_are_refused() -> None:
    table = sgd_table(dim=2)

    with pytest.raises(UsageError, match=r"shape \(1, 2\)"):
        table.apply_gradients(np.array([1]), np.zeros((1, 3)), 1, 0)


def test_export_drops_entries_idle_for_expire_days() -> None:
    table = sgd_table(expire_days=1.0)
    table.apply_gradients(np.array([1]), -np.ones((1, 1)), 1, 100.0)
    table.apply_gradients(np.array([2]), -np.ones((1, 1)), 2, 100.0 + 86400)
    table.apply_gradients(np.array([3]), -np.ones((1, 1)), 3, 100.0 + 86399)

    exported = table.export()

    assert sorted(exported.keys.tolist()) == [2, 3]


def test_expire_days_zero_exports_nothing_and_large_expiry_keeps_all() -> None:
    never = sgd_table(expire_days=0.0)
    kept = sgd_table(expire_days=3600.0)
    for table in (never, kept):
        table.apply_gradients(np.array([0, 1]), -np.ones((2, 1)), 1, 100.0)

    assert never.export().keys.size == 0
    assert sorted(kept.export().keys.tolist()) == [0, 1]


def test_load_restores_rows_state_and_timestamps() -> None:
    config = TableConfig("t", dim=3)
    source = EmbeddingTable(config)
    source.apply_gradients(np.array([5, 6]), np.ones((2, 3), np.float32), 1, 50.0)
    arrays = source.export()

    target = EmbeddingTable(config)
    target.load(arrays)

    assert np.array_equal(target.lookup(np.array([5, 6])), source.lookup([5, 6]))
    again = target.export()
    assert np.array_equal(again.state, arrays.state)
    assert again.timestamps.tolist() == [50, 50]


def test_touched_since_returns_rows_updated_after_a_version() -> None:
    table = sgd_table()
    table.apply_gradients(np.array([1, 2]), -np.ones((2, 1)), 1, 0, version=1)
    table.apply_gradients(np.array([2, 3]), -np.ones((2, 1)), 2, 0, version=2)

    fids, rows = table.touched_since(1)

    order = np.argsort(fids)
    assert fids[order].tolist() == [2, 3]
    np.testing.assert_allclose(rows[order, 0], [0.2, 0.1], rtol=1e-6)


def test_distributed_hash_table_scenario_with_sgd_lr_one() -> None:
    # distributed_ps_test: dim 1, SGD lr 1, loss 2*v on ids [0, 1] -> -2 each;
    # then ids [0, 3, 0, 1] -> duplicates summed.
    table = sgd_table(lr=1.0)

    table.apply_gradients(np.array([0, 1]), np.full((2, 1), 2.0), 1, 0)
    first = table.lookup(np.array([0, 1]))[:, 0].tolist()
    fresh = sgd_table(lr=1.0)
    fresh.apply_gradients(np.array([0, 3, 0, 1]), np.full((4, 1), 2.0), 1, 0)

    assert first == [-2.0, -2.0]
    assert fresh.lookup(np.array([0, 3, 0, 1]))[:, 0].tolist() == [-4, -2, -4, -2]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**40), max_size=400))
def test_duplicate_check_agrees_with_a_set(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)

    assert has_duplicates(array) == (len(set(values)) < len(values))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=40))
def test_strictly_increasing_means_sorted_without_repeats(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)

    assert strictly_increasing(array) == (values == sorted(set(values)))


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
def test_an_update_is_the_same_whether_its_fids_come_sorted_or_not(order: str) -> None:
    fids = np.arange(0, 200, 7, dtype=np.int64)
    grads = np.random.default_rng(1).normal(size=(fids.size, 4)).astype(np.float32)
    reference = EmbeddingTable(
        TableConfig("t", 4, optimizer=OptimizerConfig("adagrad", 0.1))
    )
    table = EmbeddingTable(
        TableConfig("t", 4, optimizer=OptimizerConfig("adagrad", 0.1))
    )
    perm = np.arange(fids.size)
    if order == "shuffled":
        perm = np.random.default_rng(2).permutation(fids.size)
    for step in (1, 2):
        reference.apply_gradients(
            np.concatenate([fids, fids[:3]]),
            np.concatenate([grads, grads[:3]]),
            step,
            0,
        )
        table.apply_gradients(
            np.concatenate([fids[perm], fids[:3]]),
            np.concatenate([grads[perm], grads[:3]]),
            step,
            0,
        )
        table.apply_gradients(fids[perm], grads[perm], step, 0)
        reference.apply_gradients(fids, grads, step, 0)

    np.testing.assert_allclose(table.lookup(fids), reference.lookup(fids), rtol=1e-6)


def test_filter_merge_keeps_the_larger_count() -> None:
    first, second = OccurrenceFilter(5, 1 << 10), OccurrenceFilter(5, 1 << 10)
    first.admit(np.array([1, 1, 1, 2]))
    second.admit(np.array([2, 2, 2, 2, 3]))

    first.merge(second.packed)

    assert first.counts(np.array([1, 2, 3, 4])).tolist() == [3, 4, 1, 0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=30))
def test_rows_form_a_block_exactly_when_they_count_up_by_one(values: list[int]) -> None:
    rows = np.array(values, dtype=np.int64)

    block = as_block(rows)

    consecutive = bool(values) and values == list(
        range(values[0], values[0] + len(values))
    )
    assert (block is not None) == consecutive
    if block is not None:
        assert np.arange(block.start, block.stop).tolist() == values


@pytest.mark.parametrize("kind", ["sgd", "adagrad", "adam", "ftrl"])
def test_an_update_gives_the_same_rows_whatever_the_order_of_its_fids(
    kind: str,
) -> None:
    config = TableConfig("t", dim=3, optimizer=OptimizerConfig(kind, 0.05))
    fids = np.arange(100, 120, dtype=np.int64)
    grads = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    in_order, shuffled = EmbeddingTable(config), EmbeddingTable(config)
    for table in (in_order, shuffled):
        table.apply_gradients(fids, grads, 1, 0)  # rows 0..19 in fid order
    perm = np.random.default_rng(1).permutation(20)

    in_order.apply_gradients(fids, 2 * grads, 2, 0)  # consecutive rows
    shuffled.apply_gradients(fids[perm], 2 * grads[perm], 2, 0)  # gathered rows

    assert np.array_equal(in_order.lookup(fids), shuffled.lookup(fids))
