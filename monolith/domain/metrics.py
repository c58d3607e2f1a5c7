"""Evaluation metrics for binary click models: AUC and log loss.

:func:`auc` is exact and tie-aware: it is the Mann-Whitney statistic with
average ranks, so a score shared by a positive and a negative counts half.
:class:`StreamingAuc` keeps a fixed histogram of scores in ``[0, 1]`` so the
training loop can report a running AUC at constant memory; its ties are the
examples that share a bin.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from monolith.domain.errors import UsageError

FloatArray = npt.NDArray[np.floating]

LOGLOSS_EPS = 1e-7


def _as_pair(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[FloatArray, ...]:
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    p = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise UsageError(
            f"labels and scores must have the same length, got {y.shape[0]} "
            f"labels and {p.shape[0]} scores"
        )
    return y, p


def auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve, with ties between scores counted as one half.

    Args:
        labels: ``[N]`` values; ``> 0.5`` is a positive.
        scores: ``[N]`` scores; only their order matters.

    Returns:
        The AUC, or NaN when the labels hold only one class.

    Raises:
        UsageError: ``labels`` and ``scores`` differ in length.
    """
    y, p = _as_pair(labels, scores)
    positive = y > 0.5
    n_pos = int(positive.sum())
    n_neg = int(y.shape[0]) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(p, kind="mergesort")
    sorted_scores = p[order]
    # Average rank of each run of equal scores (ranks start at 1).
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], sorted_scores.shape[0]]
    run_rank = (starts + ends + 1) / 2.0
    ranks = np.empty_like(p)
    ranks[order] = np.repeat(run_rank, ends - starts)
    rank_sum = float(ranks[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def logloss(labels: npt.ArrayLike, probabilities: npt.ArrayLike) -> float:
    """Mean binary cross-entropy, with probabilities clipped to ``[eps, 1-eps]``.

    Raises:
        UsageError: the inputs differ in length or are empty.
    """
    y, p = _as_pair(labels, probabilities)
    if y.shape[0] == 0:
        raise UsageError("logloss needs at least one example, got none")
    p = np.clip(p, LOGLOSS_EPS, 1.0 - LOGLOSS_EPS)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def mean_squared_error(labels: npt.ArrayLike, predictions: npt.ArrayLike) -> float:
    """Mean of ``(label - prediction)**2``.

    Raises:
        UsageError: the inputs differ in length or are empty.
    """
    y, p = _as_pair(labels, predictions)
    if y.shape[0] == 0:
        raise UsageError("mean squared error needs at least one example, got none")
    return float(np.mean((y - p) ** 2))


class StreamingAuc:
    """A running AUC over probabilities, from a histogram of ``num_bins`` bins.

    Scores are clipped to ``[0, 1]``; examples in the same bin count as tied,
    so the result is within about ``1 / num_bins`` of the exact AUC.
    """

    def __init__(self, num_bins: int = 10_000) -> None:
        if num_bins < 2:
            raise UsageError(f"num_bins must be at least 2, got {num_bins}")
        self.num_bins = num_bins
        self._pos = np.zeros(num_bins, dtype=np.int64)
        self._neg = np.zeros(num_bins, dtype=np.int64)

    @property
    def count(self) -> int:
        """Examples seen since construction or the last :meth:`reset`."""
        return int(self._pos.sum() + self._neg.sum())

    def update(self, labels: npt.ArrayLike, scores: npt.ArrayLike) -> None:
        """Add a batch of labels (``> 0.5`` is positive) and probabilities."""
        y, p = _as_pair(labels, scores)
        bins = np.clip((p * self.num_bins).astype(np.int64), 0, self.num_bins - 1)
        positive = y > 0.5
        self._pos += np.bincount(bins[positive], minlength=self.num_bins)
        self._neg += np.bincount(bins[~positive], minlength=self.num_bins)

    def result(self) -> float:
        """The AUC so far, or NaN while only one class has been seen."""
        n_pos = int(self._pos.sum())
        n_neg = int(self._neg.sum())
        if n_pos == 0 or n_neg == 0:
            return math.nan
        negatives_below = np.cumsum(self._neg) - self._neg
        wins = float(np.sum(self._pos * (negatives_below + 0.5 * self._neg)))
        return wins / (n_pos * n_neg)

    def reset(self) -> None:
        """Forget everything seen so far."""
        self._pos[:] = 0
        self._neg[:] = 0
