from __future__ import annotations

import numpy as np
import pytest

from monolith.domain.sequence_layout import layout_sequence

pytestmark = pytest.mark.unit


def test_sequences_are_left_aligned_and_long_ones_keep_their_last_fids() -> None:
    splits = np.array([0, 2, 2, 7], dtype=np.int64)  # lengths 2, 0, 5

    layout = layout_sequence(splits, max_len=3)

    assert layout.source.tolist() == [0, 1, 4, 5, 6]
    assert layout.target.tolist() == [0, 1, 6, 7, 8]
    assert layout.mask.tolist() == [[1, 1, 0], [0, 0, 0], [1, 1, 1]]


def test_an_empty_batch_has_an_empty_layout() -> None:
    layout = layout_sequence(np.array([0], dtype=np.int64), max_len=4)

    assert layout.source.size == 0
    assert layout.mask.shape == (0, 4)
