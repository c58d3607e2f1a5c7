"""Score a data pattern on a running ``monolith serve`` (``predict --server``).

The examples of the pattern are read in order (feature spec from the data's
``meta.json``), sent in batches to the server's Predict, and the scores come
back in the same order. When the data carries labels with both classes, the
AUC of the served model is computed as well.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.errors import UsageError
from monolith.domain.metrics import auc
from monolith.domain.serving import PredictRequest
from monolith.ports.serving import PredictionClient
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]


@attrs.frozen(eq=False)
class RemoteScores:
    """Scores of every example, the labels, and the AUC (NaN if undefined)."""

    scores: Float32Array
    labels: Float32Array
    auc: float
    model_version: int

    @property
    def has_auc(self) -> bool:
        return not math.isnan(self.auc)


def _limited(batch: Batch, keep: int) -> Batch:
    sparse = {}
    for name, fids in batch.sparse.items():
        end = int(fids.row_splits[keep])
        sparse[name] = RaggedFids(fids.values[:end], fids.row_splits[: keep + 1])
    return Batch(sparse=sparse, dense=batch.dense[:keep], label=batch.label[:keep])


def request_of(batch: Batch, slots: tuple[str, ...]) -> PredictRequest:
    """The Predict request for ``batch``, with exactly the served slots."""
    missing = [s for s in slots if s not in batch.sparse]
    if missing:
        raise UsageError(
            f"the data lacks slots {', '.join(missing)} that the served model "
            f"reads; the data has {', '.join(sorted(batch.sparse))}"
        )
    return PredictRequest(
        slots={s: batch.sparse[s] for s in slots},
        dense=np.asarray(batch.dense, dtype=np.float32).ravel(),
        batch_size=batch.size,
    )


def score_batches(
    client: PredictionClient, batches: Iterator[Batch], limit: int | None = None
) -> RemoteScores:
    """Send ``batches`` (at most ``limit`` examples) to the server, in order."""
    status = client.status()
    if not status.loaded:
        raise UsageError(
            f"server {client.address} has no model loaded yet; export one first"
        )
    scores: list[Float32Array] = []
    labels: list[Float32Array] = []
    version = status.model_version
    seen = 0
    for batch in batches:
        if limit is not None and seen >= limit:
            break
        if limit is not None and seen + batch.size > limit:
            batch = _limited(batch, limit - seen)
        result = client.predict(request_of(batch, status.slots))
        scores.append(result.scores)
        labels.append(np.asarray(batch.label, dtype=np.float32))
        version = result.model_version
        seen += batch.size
    all_scores = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    all_labels = np.concatenate(labels) if labels else np.zeros(0, np.float32)
    value = float("nan")
    if all_labels.size and np.unique(all_labels).size == 2:
        value = float(auc(all_labels, all_scores))
    logger.info(
        "remote predict done server=%s examples=%d version=%d",
        client.address,
        all_scores.shape[0],
        version,
    )
    return RemoteScores(all_scores, all_labels, value, version)


def predict_remote(
    address: str,
    pattern: str,
    limit: int | None = None,
    batch_size: int = 256,
    fs: FileSystem | None = None,
    client: PredictionClient | None = None,
) -> RemoteScores:
    """Score the examples of ``pattern`` on the server at ``address``.

    Args:
        address: ``host:port`` of ``monolith serve``.
        pattern: Data pattern (decision 10) with a ``meta.json`` feature spec.
        limit: Score at most this many examples.
        batch_size: Examples per Predict call.
        fs: File system of the data (local by default).
        client: A ready client (tests); otherwise a gRPC one is opened.
    """
    from monolith.app.training.inputs import eval_batches, features_of

    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1, got {limit}")
    if fs is None:
        from monolith.adapters.storage.local import LocalFileSystem

        fs = LocalFileSystem()
    features = features_of(fs, pattern)
    own = client is None
    if client is None:
        from monolith.adapters.serving.grpc_client import GrpcPredictionClient

        client = GrpcPredictionClient(address)
    try:
        return score_batches(
            client, eval_batches(fs, pattern, features, batch_size), limit
        )
    finally:
        if own:
            client.close()
