"""The chief's coordinator over real gRPC: steps, save barrier, liveness, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from monolith.adapters.clock.system import SystemClock
from monolith.adapters.coordination.grpc_client import GrpcCoordinatorClient
from monolith.adapters.coordination.grpc_server import CoordinatorServer
from monolith.domain.errors import BarrierError, CoordinatorUnavailableError
from tests.integration.dist_support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def chief() -> Iterator[CoordinatorServer]:
    server = CoordinatorServer(
        3, SystemClock(), max_steps=100, max_pending_secs=5.0, liveness_secs=1.0
    )
    server.start()
    server.mark_restored(0)
    yield server
    server.stop(0)


def test_workers_claim_global_steps_through_the_chief(chief: CoordinatorServer) -> None:
    client = GrpcCoordinatorClient(chief.address, deadline=5.0)
    client.join(1)

    first = client.claim(1)
    own = chief.claim(0)
    second = client.claim(1)

    assert (first.claimed_step, own.claimed_step, second.claimed_step) == (1, 2, 3)
    client.close()


def test_the_save_runs_only_after_the_remote_worker_blocked(
    chief: CoordinatorServer,
) -> None:
    client = GrpcCoordinatorClient(chief.address, deadline=5.0)
    client.join(1)
    events: list[str] = []
    placed = threading.Event()

    def worker() -> None:
        placed.wait(5)
        view = client.claim(1)
        assert view.placed and view.claimed_step == 0
        events.append("blocked")
        client.block(1, view.epoch)
        for _ in range(200):
            if client.status(1, view.epoch).released:
                events.append("released")
                return
            threading.Event().wait(0.02)

    thread = threading.Thread(target=worker)
    thread.start()

    def save() -> int:
        events.append("saved")
        return 1

    placer = threading.Timer(0.1, placed.set)
    placer.start()
    chief.run_barrier("save", save)
    thread.join(10)

    assert events == ["blocked", "saved", "released"]
    client.close()


def test_a_worker_that_stops_calling_no_longer_holds_the_barrier(
    chief: CoordinatorServer,
) -> None:
    client = GrpcCoordinatorClient(chief.address, deadline=5.0)
    client.join(1)
    client.join(2)
    client.close()

    saved_step = chief.run_barrier("save", lambda: 7)

    assert saved_step == 7
    assert chief.state.running() == ()


def test_the_chief_refusing_a_transition_is_a_barrier_error(
    chief: CoordinatorServer,
) -> None:
    client = GrpcCoordinatorClient(chief.address, deadline=5.0)

    with pytest.raises(BarrierError, match=r"0 < index < 3"):
        client.join(5)
    client.close()


def test_an_unreachable_chief_fails_within_the_deadline_naming_its_address() -> None:
    address = f"127.0.0.1:{free_port()}"
    client = GrpcCoordinatorClient(address, deadline=0.5)

    with pytest.raises(CoordinatorUnavailableError, match=address):
        client.claim(1)
    client.close()
