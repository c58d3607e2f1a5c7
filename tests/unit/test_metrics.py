"""AUC, log loss and the streaming AUC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.errors import UsageError
from monolith.domain.metrics import (
    StreamingAuc,
    auc,
    logloss,
    mean_squared_error,
)

pytestmark = pytest.mark.unit


def _pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    pos = scores[labels > 0.5]
    neg = scores[labels <= 0.5]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (
        pos[:, None] == neg[None, :]
    ).sum()
    return float(wins) / (len(pos) * len(neg))


def test_perfect_ranking_has_auc_one_and_reversed_has_zero():
    labels = [0, 0, 1, 1]

    assert auc(labels, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auc(labels, [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_a_tie_between_a_positive_and_a_negative_counts_one_half():
    assert auc([0, 1], [0.5, 0.5]) == 0.5
    assert auc([0, 1, 0, 1], [0.1, 0.5, 0.5, 0.9]) == pytest.approx(0.875)


def test_auc_of_one_class_is_nan():
    assert math.isnan(auc([1, 1, 1], [0.1, 0.2, 0.3]))


def test_auc_rejects_mismatched_lengths():
    with pytest.raises(UsageError, match="same length"):
        auc([0, 1], [0.5])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=60)
)
def test_auc_matches_the_pairwise_definition_with_ties(pairs):
    labels = np.array([p[0] for p in pairs], dtype=np.float64)
    scores = np.array([p[1] for p in pairs], dtype=np.float64) / 6.0
    if labels.min() == labels.max():
        return

    expected = _pairwise_auc(labels, scores)

    assert auc(labels, scores) == pytest.approx(expected)


def test_logloss_of_a_confident_right_answer_is_small_and_clipped_when_certain():
    assert logloss([1, 0], [0.9, 0.1]) == pytest.approx(-math.log(0.9))
    assert math.isfinite(logloss([1], [0.0]))


def test_logloss_needs_examples():
    with pytest.raises(UsageError, match="at least one"):
        logloss([], [])


def test_mean_squared_error_averages_squared_differences():
    assert mean_squared_error([1.0, 3.0], [2.0, 1.0]) == pytest.approx(2.5)


def test_streaming_auc_is_close_to_the_exact_auc_over_batches():
    rng = np.random.default_rng(0)
    scores = rng.random(5000)
    labels = (rng.random(5000) < scores).astype(np.float64)
    streaming = StreamingAuc(num_bins=10_000)

    for chunk in range(5):
        part = slice(chunk * 1000, (chunk + 1) * 1000)
        streaming.update(labels[part], scores[part])

    assert streaming.count == 5000
    assert streaming.result() == pytest.approx(auc(labels, scores), abs=1e-3)


def test_streaming_auc_reset_forgets_everything():
    streaming = StreamingAuc(num_bins=10)
    streaming.update([0, 1], [0.2, 0.8])

    streaming.reset()

    assert streaming.count == 0
    assert math.isnan(streaming.result())
