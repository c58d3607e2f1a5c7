"""DIEN on a synthetic price-movement task, with its data generator.

An example is one ticker's recent history: daily returns
``r_t = mu + s_k e_t`` around a hidden drift ``mu ~ N(0, 1)`` of the episode,
bucketed into movement tokens (``r_t / s_k`` in 11 buckets; oldest first, 3
to ``max_len`` days), plus its sector and log volatility. The label is
whether the next return ``phi_k mu + s_k e`` is positive: each ticker has its
own response ``phi_k`` in [-0.6, 1] (momentum names follow the drift,
contrarian names revert). Predicting it needs the evidence of the whole
sequence combined with the ticker, which is what DIEN's interest evolution
and target attention model. The exact posterior probability of each label
is known, so the best possible AUC can be reported next to the model's.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.model_spec import ModelSpec
from monolith.domain.tasks import register_task
from monolith.examples.options import parse_options
from monolith.examples.sequence import DIEN_SCHEMA, build_sequence_spec

logger = logging.getLogger(__name__)

STOCK_FEATURES = FeatureSpec(
    sparse=("ticker", "sector", "moves"), dense=("volatility",), label="label"
)
"""The features :func:`generate_stock_data` produces."""

_SLOT_IDS = {"ticker": 1, "sector": 2, "moves": 3}
_FID_SHIFT = 48


def stock_fid(slot: str, value: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """v2 fids: the slot id in the top bits (``fid >> 48``), the value below."""
    return (np.int64(_SLOT_IDS[slot]) << np.int64(_FID_SHIFT)) | value


@attrs.frozen
class StockData:
    """Generated examples and, per example, the true P(label = 1)."""

    batch: Batch
    probability: npt.NDArray[np.float64]


def generate_stock_data(
    examples: int,
    seed: int = 0,
    tickers: int = 200,
    sectors: int = 10,
    max_len: int = 30,
    buckets: int = 11,
) -> StockData:
    """``examples`` synthetic examples; the same arguments give the same data.

    The ticker universe (momentum, volatility, sector) comes from ``seed``;
    generate once and cut train and eval sets with :func:`take`, so both see
    the same tickers.
    """
    universe = np.random.default_rng(seed)
    phi = universe.uniform(-0.6, 1.0, size=tickers)
    sigma = universe.uniform(0.5, 2.0, size=tickers)
    sector = np.arange(tickers) % sectors
    rng = np.random.default_rng(seed + 1_000_003)

    ticker = rng.integers(0, tickers, size=examples)
    lengths = rng.integers(3, max_len + 1, size=examples)
    p, s = phi[ticker], sigma[ticker]
    drift = rng.normal(size=examples)
    returns = drift[:, None] + s[:, None] * rng.normal(size=(examples, max_len))
    upcoming = p * drift + s * rng.normal(size=examples)
    label = (upcoming > 0).astype(np.float32)
    keep = np.arange(max_len)[None, :] < lengths[:, None]
    # posterior of the drift (prior N(0, 1)) given the history, then P(up).
    precision = 1.0 + lengths / (s * s)
    mean = (returns * keep).sum(axis=1) / (s * s) / precision
    z = p * mean / np.sqrt(s * s + p * p / precision)
    probability = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))

    edges = np.linspace(-2.5, 2.5, buckets - 1)
    tokens = np.digitize(returns / s[:, None], edges).astype(np.int64)
    splits = np.zeros(examples + 1, dtype=np.int64)
    np.cumsum(lengths, out=splits[1:])
    one = np.arange(examples + 1, dtype=np.int64)
    sparse = {
        "ticker": RaggedFids(stock_fid("ticker", ticker.astype(np.int64)), one),
        "sector": RaggedFids(stock_fid("sector", sector[ticker].astype(np.int64)), one),
        "moves": RaggedFids(stock_fid("moves", tokens[keep]), splits),
    }
    dense = np.log(s).astype(np.float32)[:, None]
    return StockData(Batch(sparse, dense, label), probability)


def take(data: StockData, start: int, stop: int) -> StockData:
    """Examples ``start:stop`` of ``data`` (e.g. a training batch)."""
    sparse = {}
    for name, ragged in data.batch.sparse.items():
        lo, hi = int(ragged.row_splits[start]), int(ragged.row_splits[stop])
        sparse[name] = RaggedFids(
            ragged.values[lo:hi].copy(), ragged.row_splits[start : stop + 1] - lo
        )
    batch = Batch(sparse, data.batch.dense[start:stop], data.batch.label[start:stop])
    return StockData(batch, data.probability[start:stop])


STOCK_SCHEMA = {
    **DIEN_SCHEMA,
    "target_slot": (DIEN_SCHEMA["target_slot"][0], "ticker"),
    "sequence_slot": (DIEN_SCHEMA["sequence_slot"][0], "moves"),
    "max_len": (DIEN_SCHEMA["max_len"][0], 30),
    "share_table": (DIEN_SCHEMA["share_table"][0], False),
    "gru_hidden": (DIEN_SCHEMA["gru_hidden"][0], 24),
    "hidden": (DIEN_SCHEMA["hidden"][0], (64, 32)),
    "attention_hidden": (DIEN_SCHEMA["attention_hidden"][0], (32,)),
    "table_learning_rate": (DIEN_SCHEMA["table_learning_rate"][0], 0.2),
}


@register_task
class DIEN:
    """:class:`monolith.examples.sequence.DIEN` on the stock task.

    Defaults differ from the sequence task: ``target_slot`` ticker,
    ``sequence_slot`` moves (own table), ``max_len`` 30, ``gru_hidden`` 24
    (unlike ``dim`` 16), ``hidden`` (64, 32), ``attention_hidden`` (32,),
    ``table_learning_rate`` 0.2 (dense: Adam 0.003 as in the sequence tasks).
    With these, one pass over 50k examples (batch 256) reached eval AUC
    0.653 against the optimum 0.668 in a numpy-table harness.
    Data: :func:`generate_stock_data` (features :data:`STOCK_FEATURES`).
    """

    default_features = STOCK_FEATURES
    SCHEMA = STOCK_SCHEMA

    def build_spec(self, features: FeatureSpec, **options: Any) -> ModelSpec:
        o = parse_options("examples.stock.DIEN", options, self.SCHEMA)
        return build_sequence_spec("examples.stock.DIEN", "dien", features, o)
