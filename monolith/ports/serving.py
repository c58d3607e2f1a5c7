"""The serving ports: what a transport calls, what it reports, how to reach it.

* :class:`PredictionHandler` is the serving use case as a transport sees it:
  a gRPC server adapter decodes requests into domain values and calls it.
* :class:`ServingMetrics` receives what the server observes (requests,
  latency, the loaded version, real-time sync lag).
* :class:`PredictionClient` is the client side of the same service, used by
  ``monolith predict --server`` and by real-time training to push deltas.

Errors: handlers raise :class:`~monolith.domain.errors.UsageError` for a
malformed request (the transport answers INVALID_ARGUMENT with its message)
and :class:`~monolith.domain.errors.ServingError` when no model is loaded
(UNAVAILABLE). Clients raise ServingError for any transport failure, naming
the address; a UsageError from the server comes back as UsageError.

Thread-safety: handlers and metrics are called from many server threads at
once; a client may be shared by threads.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from monolith.domain.serving import (
    DeltaOutcome,
    EmbeddingDelta,
    PredictRequest,
    PredictResult,
)


@attrs.frozen
class ModelStatus:
    """What the server currently serves (``loaded`` False before the first load)."""

    loaded: bool
    model_version: int
    slots: tuple[str, ...]
    dense_width: int
    tables: tuple[str, ...]


class PredictionHandler(Protocol):
    """Scores batches with the served model and applies embedding deltas."""

    def predict(self, request: PredictRequest) -> PredictResult:
        """Scores for every example of the batch, with the version used."""
        ...

    def apply_delta(self, delta: EmbeddingDelta) -> DeltaOutcome:
        """Apply each table of ``delta`` atomically unless its version is stale."""
        ...

    def status(self) -> ModelStatus:
        """The loaded model, or ``loaded=False``."""
        ...


class ServingMetrics(Protocol):
    """Counters, histograms and gauges of a serving process."""

    def observe_request(self, method: str, code: str, seconds: float) -> None:
        """One finished RPC: method name, status code name, wall seconds."""
        ...

    def set_model_version(self, version: int) -> None:
        """The version now served."""
        ...

    def observe_sync_lag(self, seconds: float) -> None:
        """Age of a delta when it was applied (now - trainer read time)."""
        ...


class PredictionClient(Protocol):
    """Calls a Prediction service at one address."""

    @property
    def address(self) -> str:
        """``host:port`` of the server."""
        ...

    def predict(self, request: PredictRequest, timeout: float = 10.0) -> PredictResult:
        """Score a batch on the server."""
        ...

    def push_delta(self, delta: EmbeddingDelta, timeout: float = 3.0) -> DeltaOutcome:
        """Send embedding rows; stale tables come back in ``ignored``."""
        ...

    def status(self, timeout: float = 3.0) -> ModelStatus:
        """The server's loaded model."""
        ...

    def close(self) -> None:
        """Close the channel (idempotent)."""
        ...
