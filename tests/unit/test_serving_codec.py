"""Predict requests survive the trip through their proto, short fields and long."""

from __future__ import annotations

import numpy as np
import pytest

from monolith.adapters.serving.codec import request_from_proto, request_to_proto
from monolith.domain.batch import RaggedFids
from monolith.domain.serving import PredictRequest
from monolith.proto import prediction_service_pb2 as pb

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("batch", [1, 3, 300])
def test_a_request_decodes_to_the_fids_splits_and_dense_values_it_was_sent_with(
    batch: int,
) -> None:
    rng = np.random.default_rng(batch)
    long_fids = rng.integers(-(2**63), 2**63 - 1, size=2 * batch, dtype=np.int64)
    long_fids[0] = 2**63 - 1
    sent = PredictRequest(
        slots={
            "one": RaggedFids(
                np.arange(batch, dtype=np.int64), np.arange(batch + 1, dtype=np.int64)
            ),
            "two": RaggedFids(long_fids, np.arange(0, 2 * batch + 1, 2)),
        },
        dense=rng.standard_normal(batch * 5).astype(np.float32),
        batch_size=batch,
    )
    wire = request_to_proto(sent).SerializeToString()

    got = request_from_proto(pb.PredictRequest.FromString(wire))

    assert got.batch_size == batch
    assert sorted(got.slots) == ["one", "two"]
    for name, fids in sent.slots.items():
        assert got.slots[name].values.dtype == np.int64
        assert np.array_equal(got.slots[name].values, fids.values)
        assert np.array_equal(got.slots[name].row_splits, fids.row_splits)
    assert got.dense.dtype == np.float32
    assert np.array_equal(got.dense, sent.dense)
