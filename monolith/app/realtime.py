"""Real-time training: push freshly trained embedding rows to serving replicas.

Every ``interval`` seconds (default 10, like the original's parameter sync)
:class:`RealtimeSync` reads, per table, the rows touched since the last push
that reached each replica (``ParameterStore.touched_since``) and sends them
as one :class:`~monolith.domain.serving.EmbeddingDelta` stamped with the
store version. Serving ignores a delta whose version is not newer than the
last it applied for the same source and table, so a replayed or late delta
changes nothing. A replica that fails keeps its old versions here: the next
round sends it everything since its last success, and the round goes on to
the other replicas.

Dense parameters are not synced: they reach serving through new export
versions, which ``monolith serve`` picks up by itself.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence

import attrs
import numpy as np

from monolith.app.training.hooks import Hook, RunInfo
from monolith.domain.errors import MonolithError, UsageError
from monolith.domain.serving import EmbeddingDelta, TableDelta
from monolith.ports.clock import Clock
from monolith.ports.discovery import ServiceDiscovery
from monolith.ports.parameters import ParameterStore
from monolith.ports.serving import PredictionClient

logger = logging.getLogger(__name__)

DEFAULT_SYNC_INTERVAL = 10.0
SERVING_ROLE = "serving"

TargetSource = Callable[[], Sequence[PredictionClient]]


@attrs.frozen
class SyncRound:
    """What one push round did (``rows`` counts each replica's rows)."""

    version: int
    rows: int
    replicas_ok: tuple[str, ...]
    replicas_failed: tuple[str, ...]


def default_source() -> str:
    """A trainer id unique to this process run (store versions restart at 0)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def parse_serving_addresses(text: str) -> list[str]:
    """``HOST:PORT[,HOST:PORT...]`` as a list; an empty or portless item is an error."""
    addresses = [item.strip() for item in text.split(",") if item.strip()]
    if not addresses:
        raise UsageError("--serving needs at least one HOST:PORT")
    for address in addresses:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise UsageError(
                f"--serving address {address!r} must be HOST:PORT (IPv6 as [::1]:8500)"
            )
    return addresses


class RealtimeSync:
    """Pushes touched embedding rows to every serving replica, periodically.

    Args:
        store: The trainer's parameter store.
        tables: Table names to sync.
        targets: Returns the replicas to push to; called every round, so a
            discovery-backed source follows replicas coming and going.
        clock: Wall time for ``created_at`` and sleeping.
        interval: Seconds between rounds.
        source: Trainer id; unique per run by default.
        timeout: Seconds per push RPC.
    """

    def __init__(
        self,
        store: ParameterStore,
        tables: Sequence[str],
        targets: TargetSource,
        clock: Clock,
        interval: float = DEFAULT_SYNC_INTERVAL,
        source: str | None = None,
        timeout: float = 3.0,
    ) -> None:
        if not interval > 0:
            raise UsageError(f"--sync-interval must be positive, got {interval}")
        self._store = store
        self._tables = tuple(tables)
        self._targets = targets
        self._clock = clock
        self.interval = interval
        self.source = source if source is not None else default_source()
        self._timeout = timeout
        self._since: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def push_once(self) -> SyncRound:
        """One round: read touched rows per replica's last version and push them."""
        with self._lock:
            replicas = list(self._targets())
            created_at = self._clock.now()
            cache: dict[tuple[str, int], tuple[TableDelta | None, int]] = {}
            ok: list[str] = []
            failed: list[str] = []
            total_rows = 0
            top_version = -1
            for replica in replicas:
                since = self._since.setdefault(replica.address, {})
                tables: list[TableDelta] = []
                versions: dict[str, int] = {}
                for table in self._tables:
                    key = (table, since.get(table, -1))
                    if key not in cache:
                        touched = self._store.touched_since(table, key[1])
                        delta = None
                        if touched.fids.shape[0] > 0:
                            delta = TableDelta(
                                table,
                                np.asarray(touched.fids, dtype=np.int64),
                                np.asarray(touched.rows, dtype=np.float32),
                            )
                        cache[key] = (delta, touched.version)
                    delta, version = cache[key]
                    versions[table] = version
                    if delta is not None:
                        tables.append(delta)
                if not tables:
                    since.update(versions)
                    ok.append(replica.address)
                    continue
                version = max(versions.values())
                top_version = max(top_version, version)
                message = EmbeddingDelta(
                    self.source, version, tuple(tables), created_at
                )
                try:
                    replica.push_delta(message, timeout=self._timeout)
                except MonolithError as exc:
                    failed.append(replica.address)
                    logger.warning(
                        "delta push failed replica=%s version=%d reason=%s",
                        replica.address,
                        version,
                        exc,
                    )
                    continue
                since.update(versions)
                ok.append(replica.address)
                total_rows += sum(int(t.fids.shape[0]) for t in tables)
            self.rounds += 1
        if total_rows:
            logger.debug(
                "delta pushed version=%d rows=%d replicas=%d failed=%d",
                top_version,
                total_rows,
                len(ok),
                len(failed),
            )
        return SyncRound(top_version, total_rows, tuple(ok), tuple(failed))

    def start(self) -> None:
        """Push every ``interval`` seconds in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                started = self._clock.monotonic()
                try:
                    self.push_once()
                except MonolithError as exc:
                    logger.warning("delta round failed reason=%s", exc)
                except Exception:  # keep syncing; the next round retries
                    logger.exception("delta round failed source=%s", self.source)
                remaining = self.interval - (self._clock.monotonic() - started)
                self._stop.wait(max(remaining, 0.0))

        self._thread = threading.Thread(
            target=loop, name="monolith-realtime-sync", daemon=True
        )
        self._thread.start()
        logger.info(
            "realtime sync started source=%s interval=%.3g tables=%d",
            self.source,
            self.interval,
            len(self._tables),
        )

    def stop(self, flush: bool = True) -> None:
        """Stop the loop; with ``flush``, push what is left once more."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + self._timeout + 5.0)
            self._thread = None
        if flush:
            try:
                self.push_once()
            except MonolithError as exc:
                logger.warning("final delta round failed reason=%s", exc)


class StaticTargets:
    """Clients for a fixed address list, created once and closed together."""

    def __init__(
        self, addresses: Sequence[str], make_client: Callable[[str], PredictionClient]
    ) -> None:
        self._clients = [make_client(address) for address in addresses]

    def __call__(self) -> Sequence[PredictionClient]:
        return self._clients

    def close(self) -> None:
        for client in self._clients:
            client.close()


class DiscoveryTargets:
    """Clients for whatever discovery lists under ``serving`` right now."""

    def __init__(
        self,
        discovery: ServiceDiscovery,
        make_client: Callable[[str], PredictionClient],
        role: str = SERVING_ROLE,
    ) -> None:
        self._discovery = discovery
        self._make_client = make_client
        self._role = role
        self._clients: dict[str, PredictionClient] = {}

    def __call__(self) -> Sequence[PredictionClient]:
        addresses = set(self._discovery.query(self._role).values())
        for gone in set(self._clients) - addresses:
            self._clients.pop(gone).close()
        for address in sorted(addresses - set(self._clients)):
            self._clients[address] = self._make_client(address)
        return [self._clients[a] for a in sorted(self._clients)]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def grpc_client(address: str) -> PredictionClient:
    """A gRPC Prediction client (imports grpc on first use)."""
    from monolith.adapters.serving.grpc_client import GrpcPredictionClient

    return GrpcPredictionClient(address)


@attrs.frozen
class RealtimeOptions:
    """``monolith train --realtime --serving HOST:PORT[,...] --sync-interval S``."""

    serving: tuple[str, ...]
    sync_interval: float = DEFAULT_SYNC_INTERVAL
    timeout: float = 3.0


class RealtimeSyncHook(Hook):
    """Runs :class:`RealtimeSync` for the length of a training run.

    Chief only: one sync per job. ``store`` is called at ``begin`` (the
    training cluster exists by then) and returns the job's parameter store.
    """

    chief_only = True

    def __init__(
        self,
        options: RealtimeOptions,
        store: Callable[[], ParameterStore],
        tables: Sequence[str],
        clock: Clock,
        make_client: Callable[[str], PredictionClient] = grpc_client,
    ) -> None:
        self._options = options
        self._store = store
        self._tables = tuple(tables)
        self._clock = clock
        self._make_client = make_client
        self.sync: RealtimeSync | None = None
        self._targets: StaticTargets | None = None

    def begin(self, run: RunInfo) -> None:
        self._targets = StaticTargets(self._options.serving, self._make_client)
        self.sync = RealtimeSync(
            self._store(),
            self._tables,
            self._targets,
            self._clock,
            interval=self._options.sync_interval,
            timeout=self._options.timeout,
        )
        self.sync.start()

    def end(self, last_step: int, *, failed: bool) -> None:
        if self.sync is not None:
            self.sync.stop(flush=True)
            logger.info(
                "realtime sync stopped source=%s rounds=%d last_step=%d",
                self.sync.source,
                self.sync.rounds,
                last_step,
            )
        if self._targets is not None:
            self._targets.close()
