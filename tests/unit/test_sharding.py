"""Fid routing and duplicate-gradient summing (decision 8, BEHAVIOUR.md §7.3)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.errors import UsageError
from monolith.domain.sharding import (
    dedup_sum,
    scatter_from_shards,
    shard_of,
    split_by_shard,
)

pytestmark = pytest.mark.unit

fid_lists = st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=60)


def test_a_fid_goes_to_fid_mod_num_ps() -> None:
    shards = shard_of(np.array([0, 1, 2, 3, 7], dtype=np.int64), 3)

    assert shards.tolist() == [0, 1, 2, 0, 1]


def test_negative_fids_land_in_range_by_floor_modulo() -> None:
    shards = shard_of(np.array([-1, -2, -3, -(2**63)], dtype=np.int64), 3)

    assert shards.tolist() == [2, 1, 0, (-(2**63)) % 3]


def test_shard_of_keeps_the_shape_and_accepts_python_ints() -> None:
    shards = shard_of([[5, 6], [7, 8]], 4)

    assert shards.dtype == np.int64
    assert shards.tolist() == [[1, 2], [3, 0]]


def test_num_ps_below_one_is_an_error() -> None:
    with pytest.raises(UsageError, match="num_ps must be >= 1"):
        shard_of(np.array([1]), 0)


def test_float_fids_are_rejected() -> None:
    with pytest.raises(UsageError, match="fids must be integers"):
        shard_of(np.array([1.5]), 2)


def test_split_gives_each_shard_its_positions_in_order() -> None:
    fids = np.array([4, 1, 2, 7, 1, -1], dtype=np.int64)

    positions = split_by_shard(fids, 3)

    assert [p.tolist() for p in positions] == [[], [0, 1, 3, 4], [2, 5]]


def test_split_of_no_fids_gives_empty_shards() -> None:
    positions = split_by_shard(np.array([], dtype=np.int64), 2)

    assert [p.size for p in positions] == [0, 0]


def test_split_rejects_a_matrix() -> None:
    with pytest.raises(UsageError, match="1-D"):
        split_by_shard(np.zeros((2, 2), dtype=np.int64), 2)


def test_scatter_puts_duplicate_fids_back_with_identical_rows() -> None:
    """BEHAVIOUR.md §7.6 ``DistributedHashTableTest``: lookup [1, 1, 3] on 2 PS."""
    table = {1: [1.0, 1.0], 3: [3.0, 3.0]}
    fids = np.array([1, 1, 3], dtype=np.int64)
    positions = split_by_shard(fids, 2)
    parts = [
        np.array([table[int(f)] for f in fids[p]], dtype=np.float32).reshape(-1, 2)
        for p in positions
    ]

    rows = scatter_from_shards(parts, positions, len(fids))

    assert rows.tolist() == [[1.0, 1.0], [1.0, 1.0], [3.0, 3.0]]


def test_scatter_rejects_a_part_of_the_wrong_length() -> None:
    positions = split_by_shard(np.array([0, 1, 2], dtype=np.int64), 2)
    parts = [np.zeros((2, 4)), np.zeros((2, 4))]

    with pytest.raises(UsageError, match=r"shard 1 answered shape \(2, 4\)"):
        scatter_from_shards(parts, positions, 3)


def test_scatter_needs_one_part_per_shard() -> None:
    positions = split_by_shard(np.array([0, 1], dtype=np.int64), 2)

    with pytest.raises(UsageError, match="one part per shard"):
        scatter_from_shards([np.zeros((1, 2))], positions, 2)


def test_duplicate_gradients_are_summed() -> None:
    """BEHAVIOUR.md §7.6: ids [0, 3, 0, 1] with gradient 2 each -> 0 gets 4."""
    fids = np.array([0, 3, 0, 1], dtype=np.int64)
    grads = np.full((4, 1), 2.0, dtype=np.float32)

    unique, summed = dedup_sum(fids, grads)

    assert unique.tolist() == [0, 1, 3]
    assert summed.tolist() == [[4.0], [2.0], [2.0]]
    assert summed.dtype == np.float32


def test_dedup_without_duplicates_only_sorts() -> None:
    unique, summed = dedup_sum(np.array([9, -4, 2]), np.array([[1.0], [2.0], [3.0]]))

    assert unique.tolist() == [-4, 2, 9]
    assert summed.tolist() == [[2.0], [3.0], [1.0]]


def test_dedup_of_nothing_is_nothing() -> None:
    unique, summed = dedup_sum(np.array([], dtype=np.int64), np.zeros((0, 8)))

    assert unique.shape == (0,)
    assert summed.shape == (0, 8)


def test_dedup_rejects_a_row_count_mismatch() -> None:
    with pytest.raises(UsageError, match=r"grads shape \(2, 4\)"):
        dedup_sum(np.array([1, 2, 3]), np.zeros((2, 4)))


def test_dedup_does_not_modify_its_inputs() -> None:
    fids = np.array([3, 1, 3], dtype=np.int64)
    grads = np.array([[1.0], [2.0], [3.0]])

    dedup_sum(fids, grads)

    assert fids.tolist() == [3, 1, 3]
    assert grads.tolist() == [[1.0], [2.0], [3.0]]


@settings(max_examples=100, deadline=None)
@given(fids=fid_lists, num_ps=st.integers(min_value=1, max_value=7))
def test_split_then_scatter_is_the_identity(fids: list[int], num_ps: int) -> None:
    array = np.array(fids, dtype=np.int64)

    positions = split_by_shard(array, num_ps)
    rows = scatter_from_shards([array[p] for p in positions], positions, len(array))

    assert rows.tolist() == fids
    for shard, where in enumerate(positions):
        assert all(f % num_ps == shard for f in array[where].tolist())
    assert sorted(np.concatenate(positions).tolist()) == list(range(len(fids)))


@settings(max_examples=100, deadline=None)
@given(
    fids=st.lists(st.integers(min_value=-50, max_value=50), max_size=80),
    dim=st.integers(min_value=1, max_value=4),
)
def test_dedup_sum_matches_unique_plus_add_at(fids: list[int], dim: int) -> None:
    array = np.array(fids, dtype=np.int64)
    grads = np.random.default_rng(len(fids)).normal(size=(len(fids), dim))
    expected_fids, inverse = np.unique(array, return_inverse=True)
    expected = np.zeros((len(expected_fids), dim))
    np.add.at(expected, inverse, grads)

    unique, summed = dedup_sum(array, grads)

    assert unique.tolist() == expected_fids.tolist()
    np.testing.assert_allclose(summed, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk_elements", [1, 3, 8, 1 << 22])
def test_dedup_sum_gives_the_same_sums_for_any_chunk_size(chunk_elements: int) -> None:
    fids = np.array([5, 1, 5, 2, 1, 5, 9], dtype=np.int64)
    grads = np.arange(7 * 3, dtype=np.float64).reshape(7, 3)

    unique, summed = dedup_sum(fids, grads, chunk_elements=chunk_elements)

    assert unique.tolist() == [1, 2, 5, 9]
    assert summed.tolist() == [
        [15.0, 17.0, 19.0],
        [9.0, 10.0, 11.0],
        [21.0, 24.0, 27.0],
        [18.0, 19.0, 20.0],
    ]


def test_dedup_sum_handles_scalar_and_matrix_rows() -> None:
    fids = np.array([1, 1, 2], dtype=np.int64)

    _, scalars = dedup_sum(fids, np.array([1.0, 2.0, 4.0]))
    _, matrices = dedup_sum(fids, np.ones((3, 2, 2), dtype=np.float32))

    assert scalars.tolist() == [3.0, 4.0]
    assert matrices.shape == (2, 2, 2)
    assert matrices[0].tolist() == [[2.0, 2.0], [2.0, 2.0]]
