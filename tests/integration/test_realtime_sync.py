"""Real-time training: touched rows pushed to serving over gRPC become visible."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from monolith.adapters.clock.system import SystemClock
from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.serving.grpc_client import GrpcPredictionClient
from monolith.app.realtime import RealtimeSync, StaticTargets, grpc_client
from monolith.app.serving.runner import RunningServer
from monolith.domain.serve_settings import ServeSettings
from tests.serving_support.checkpoints import tiny_spec
from tests.serving_support.servers import free_port, make_export, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture()
def servers(tmp_path: Path) -> Iterator[list[RunningServer]]:
    make_export(str(tmp_path), step=10)
    running = [
        RunningServer(
            ServeSettings(export_dir=str(tmp_path / "exports"), port=0, poll_interval=5)
        ).start()
        for _ in range(2)
    ]
    yield running
    for server in running:
        server.stop(grace=1.0)


@pytest.fixture()
def store() -> Iterator[LocalParameterStore]:
    s = LocalParameterStore(num_shards=2)
    s.create_tables(tiny_spec().tables)
    yield s
    s.close()


def _train(store: LocalParameterStore, fids: list[int], value: float = 1.0) -> None:
    grads = np.full((len(fids), 8), value, dtype=np.float32)
    store.apply_gradients("user", np.array(fids, dtype=np.int64), grads, 1, time.time())


def test_rows_touched_by_training_reach_every_replica(
    servers: list[RunningServer], store: LocalParameterStore
) -> None:
    targets = StaticTargets([s.address for s in servers], grpc_client)
    sync = RealtimeSync(store, ["user", "item"], targets, SystemClock(), interval=1.0)
    _train(store, [777, 778])

    round_ = sync.push_once()

    expected = store.lookup("user", np.array([777, 778]))
    for server in servers:
        got = server.service.lookup("user", np.array([777, 778]))
        np.testing.assert_allclose(got, expected)
    assert round_.rows == 4  # two rows to each of two replicas
    assert set(round_.replicas_ok) == {s.address for s in servers}
    targets.close()


def test_only_rows_touched_since_the_last_push_are_sent(
    servers: list[RunningServer], store: LocalParameterStore
) -> None:
    targets = StaticTargets([servers[0].address], grpc_client)
    sync = RealtimeSync(store, ["user"], targets, SystemClock())
    _train(store, [1, 2, 3])
    sync.push_once()

    _train(store, [3])
    second = sync.push_once()
    third = sync.push_once()

    assert second.rows == 1
    assert third.rows == 0
    np.testing.assert_allclose(
        servers[0].service.lookup("user", np.array([3])),
        store.lookup("user", np.array([3])),
    )
    targets.close()


def test_a_replayed_delta_is_ignored_by_version(
    servers: list[RunningServer], store: LocalParameterStore
) -> None:
    client = GrpcPredictionClient(servers[0].address)
    sync = RealtimeSync(store, ["user"], lambda: [client], SystemClock(), source="job")
    _train(store, [5])
    sync.push_once()
    old = store.touched_since("user", -1)
    _train(store, [5], value=-3.0)
    sync.push_once()
    fresh = servers[0].service.lookup("user", np.array([5]))

    from monolith.domain.serving import EmbeddingDelta, TableDelta

    outcome = client.push_delta(
        EmbeddingDelta(
            "job", old.version, (TableDelta("user", old.fids, old.rows),), 0.0
        )
    )

    assert outcome.ignored == ("user",)
    np.testing.assert_allclose(servers[0].service.lookup("user", np.array([5])), fresh)
    client.close()


def test_a_failing_replica_gets_everything_it_missed_on_the_next_round(
    servers: list[RunningServer], store: LocalParameterStore
) -> None:
    port = free_port()
    dead = f"127.0.0.1:{port}"
    clients = {
        dead: grpc_client(dead),
        servers[0].address: grpc_client(servers[0].address),
    }
    sync = RealtimeSync(
        store, ["user"], lambda: list(clients.values()), SystemClock(), timeout=0.5
    )
    _train(store, [10, 11])

    first = sync.push_once()
    replacement = RunningServer(
        ServeSettings(export_dir=servers[0].settings.export_dir, port=port)
    ).start()
    try:
        _train(store, [12])
        for _ in range(100):  # the client reconnects after its backoff
            last = sync.push_once()
            if dead in last.replicas_ok:
                break
            time.sleep(0.2)
        got = replacement.service.lookup("user", np.array([10, 11, 12]))
    finally:
        replacement.stop(grace=1.0)

    assert first.replicas_failed == (dead,)
    assert dead in last.replicas_ok
    np.testing.assert_allclose(got, store.lookup("user", np.array([10, 11, 12])))
    for client in clients.values():
        client.close()


def test_the_periodic_loop_makes_training_visible_within_a_few_intervals(
    servers: list[RunningServer], store: LocalParameterStore
) -> None:
    targets = StaticTargets([servers[0].address], grpc_client)
    sync = RealtimeSync(store, ["user"], targets, SystemClock(), interval=0.1)
    sync.start()
    try:
        _train(store, [4242])
        expected = store.lookup("user", np.array([4242]))
        wait_until(
            lambda: np.allclose(
                servers[0].service.lookup("user", np.array([4242])), expected
            ),
            timeout=20,
        )
    finally:
        sync.stop()
        targets.close()

    assert sync.rounds >= 1


def test_serving_addresses_are_parsed_and_bad_ones_named() -> None:
    from monolith.app.realtime import parse_serving_addresses
    from monolith.domain.errors import UsageError

    assert parse_serving_addresses("a:1, [::1]:2") == ["a:1", "[::1]:2"]
    with pytest.raises(UsageError, match="'nohost' must be HOST:PORT"):
        parse_serving_addresses("a:1,nohost")
