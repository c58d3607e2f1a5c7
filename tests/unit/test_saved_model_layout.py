"""The SavedModel's in-graph sequence padding equals the numpy layout."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.sequence_layout import layout_sequence

pytestmark = pytest.mark.unit

tf = pytest.importorskip("tensorflow")

from monolith.adapters.export.saved_model_writer import (  # noqa: E402
    sequence_layout_in_graph,
)


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 9), min_size=0, max_size=6),
    max_len=st.integers(1, 5),
)
def test_in_graph_layout_matches_the_numpy_sequence_layout(
    lengths: list[int], max_len: int
) -> None:
    splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    source, target, mask = sequence_layout_in_graph(tf.constant(splits), max_len)

    expected = layout_sequence(splits, max_len)
    np.testing.assert_array_equal(source.numpy(), expected.source)
    np.testing.assert_array_equal(target.numpy(), expected.target)
    np.testing.assert_array_equal(mask.numpy(), expected.mask)
    assert mask.shape[1] == max_len
