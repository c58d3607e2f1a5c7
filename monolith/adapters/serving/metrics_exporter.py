"""Prometheus metrics of a serving process, on their own HTTP port.

Metric names (all prefixed ``monolith_serving_``): ``requests_total{method,
code}``, ``request_seconds{method}`` (histogram), ``model_version`` (gauge),
``sync_lag_seconds`` (histogram of delta age at apply) and
``last_sync_lag_seconds`` (gauge).
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import start_http_server

from monolith.domain.errors import ServingError

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
)
_LAG_BUCKETS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0)


class PrometheusServingMetrics:
    """ServingMetrics on prometheus_client, with a private registry.

    Backend: prometheus_client. Each instance owns its registry, so several
    servers in one process (tests) do not clash. :meth:`serve_http` starts
    the exposition endpoint; without it the metrics are only collected.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "monolith_serving_requests",
            "RPCs handled, by method and status code.",
            ("method", "code"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "monolith_serving_request_seconds",
            "Wall time of an RPC in the handler.",
            ("method",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._version = Gauge(
            "monolith_serving_model_version",
            "The export version being served (-1 before the first load).",
            registry=self.registry,
        )
        self._version.set(-1)
        self._lag = Histogram(
            "monolith_serving_sync_lag_seconds",
            "Age of a real-time delta when applied.",
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self._last_lag = Gauge(
            "monolith_serving_last_sync_lag_seconds",
            "Age of the most recent real-time delta when applied.",
            registry=self.registry,
        )
        self._http: Any = None
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def observe_request(self, method: str, code: str, seconds: float) -> None:
        children = self._children.get((method, code))
        if children is None:
            children = (
                self._requests.labels(method, code),
                self._latency.labels(method),
            )
            self._children[(method, code)] = children
        children[0].inc()
        children[1].observe(seconds)

    def set_model_version(self, version: int) -> None:
        self._version.set(version)

    def observe_sync_lag(self, seconds: float) -> None:
        self._lag.observe(max(seconds, 0.0))
        self._last_lag.set(seconds)

    def serve_http(self, host: str, port: int) -> int:
        """Expose ``/metrics`` on ``host:port`` (0 picks a port); return the port."""
        try:
            server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ServingError(
                f"cannot start the metrics endpoint on {host}:{port}: {exc}"
            ) from exc
        self._http = server
        bound = int(server.server_address[1])
        logger.info("metrics endpoint started address=%s:%d", host, bound)
        return bound

    def close(self) -> None:
        """Stop the HTTP endpoint if it runs (idempotent)."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
