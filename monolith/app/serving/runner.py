"""Run ``monolith serve``: wire service, gRPC server and metrics; stop on signal.

:func:`run_server` blocks until ``stop`` is set (or SIGINT/SIGTERM when it
installs handlers, which only works from the main thread), then stops
accepting RPCs, lets in-flight ones finish within the grace period and
returns. :class:`RunningServer` is the same without blocking, for tests,
benchmarks and the demo.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from monolith.app.serving.backends import make_compute
from monolith.app.serving.model import load_export
from monolith.app.serving.service import PredictionService
from monolith.app.storage import filesystem_for
from monolith.domain.serve_settings import ServeSettings
from monolith.ports.clock import Clock

logger = logging.getLogger(__name__)


class RunningServer:
    """A started serving process inside this one: service, gRPC server, metrics."""

    def __init__(
        self,
        settings: ServeSettings,
        clock: Clock | None = None,
        extra_handlers: Sequence[Any] = (),
    ) -> None:
        """``extra_handlers`` are grpc generic handlers served beside the
        Prediction service (benchmarks add a bare echo there)."""
        from monolith.adapters.clock.system import SystemClock
        from monolith.adapters.serving.grpc_server import GrpcPredictionServer
        from monolith.adapters.serving.metrics_exporter import (
            PrometheusServingMetrics,
        )

        self.settings = settings
        self.metrics = PrometheusServingMetrics()
        fs = filesystem_for(settings.export_dir)
        self.service = PredictionService(
            settings.export_dir,
            functools.partial(
                load_export,
                make_backend=make_compute,
                max_backends=settings.workers,
                fs=fs,
            ),
            self.metrics,
            clock if clock is not None else SystemClock(),
            settings.limits,
            fs=fs,
        )
        self.server = GrpcPredictionServer(
            self.service, settings, self.metrics, extra_handlers=extra_handlers
        )
        self.service.on_model_loaded(lambda _version: self.server.set_serving(True))
        self.metrics_port: int | None = None
        self._stopped = False

    @property
    def address(self) -> str:
        return self.server.address

    def start(self) -> RunningServer:
        if self.settings.metrics_port is not None:
            self.metrics_port = self.metrics.serve_http(
                self.settings.host, self.settings.metrics_port
            )
        loaded = self.service.refresh()
        if not loaded:
            logger.warning(
                "no export version yet export_dir=%s; health stays NOT_SERVING "
                "until one appears",
                self.settings.export_dir,
            )
        self.server.start()
        self.service.start_watching(self.settings.poll_interval)
        return self

    def stop(self, grace: float | None = None) -> None:
        """Stop watching, drain in-flight RPCs within ``grace``, close metrics."""
        if self._stopped:
            return
        self._stopped = True
        self.service.stop_watching()
        self.server.stop(self.settings.grace if grace is None else grace)
        self.metrics.close()

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_server(
    settings: ServeSettings,
    stop: threading.Event | None = None,
    install_signal_handlers: bool = True,
    on_started: Callable[[RunningServer], None] | None = None,
    extra_handlers: Sequence[Any] = (),
) -> int:
    """Serve until ``stop`` is set or SIGINT/SIGTERM arrives; return exit status 0."""
    stop = stop if stop is not None else threading.Event()
    previous: dict[int, object] = {}
    if install_signal_handlers:

        def handle(signum: int, _frame: FrameType | None) -> None:
            logger.info("shutdown requested signal=%s", signal.Signals(signum).name)
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handle)
    running = RunningServer(settings, extra_handlers=extra_handlers)
    try:
        running.start()
        if on_started is not None:
            on_started(running)
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
    logger.info("serve stopped address=%s", running.address)
    return 0
