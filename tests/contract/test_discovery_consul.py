"""ConsulDiscovery runs the contract against a Consul-HTTP-API test server.

When ``CONSUL_HTTP_ADDR`` is set, the same contract also runs against that
real agent (with ``CONSUL_HTTP_TOKEN`` as the ACL token, if set).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from monolith.adapters.clock.manual import ManualClock
from monolith.domain.errors import DiscoveryError
from monolith.ports.discovery import ServiceDiscovery
from monolith.testing.contracts.discovery import DiscoveryContract
from tests.contract.consul_api_server import ConsulState, consul_api_server

pytest.importorskip("consul")

from monolith.adapters.discovery.consul_discovery import (  # noqa: E402
    ConsulDiscovery,
)

pytestmark = [pytest.mark.contract, pytest.mark.timeout(60)]


def fast(addr: str, **kwargs: object) -> ConsulDiscovery:
    options: dict[str, object] = {
        "clock": ManualClock(),
        "poll_secs": 0.0,
        "retry_time_secs": 0.0,
        "heartbeat_secs": 0.05,
    }
    options.update(kwargs)
    return ConsulDiscovery(addr, f"svc-{uuid.uuid4().hex[:8]}", **options)  # type: ignore[arg-type]


@pytest.fixture
def consul_server() -> Iterator[tuple[str, ConsulState]]:
    with consul_api_server() as served:
        yield served


class TestConsulDiscovery(DiscoveryContract):
    @pytest.fixture
    def discovery(
        self, consul_server: tuple[str, ConsulState]
    ) -> Iterator[ServiceDiscovery]:
        with fast(consul_server[0]) as discovery:
            yield discovery


@pytest.mark.skipif(
    not os.environ.get("CONSUL_HTTP_ADDR"), reason="CONSUL_HTTP_ADDR is not set"
)
class TestConsulDiscoveryOnARealAgent(DiscoveryContract):
    @pytest.fixture
    def discovery(self) -> Iterator[ServiceDiscovery]:
        addr = os.environ["CONSUL_HTTP_ADDR"].split("//")[-1]
        token = os.environ.get("CONSUL_HTTP_TOKEN") or None
        with ConsulDiscovery(
            addr, f"monolith-test-{uuid.uuid4().hex[:8]}", token=token, poll_secs=0.5
        ) as discovery:
            yield discovery


def test_a_task_whose_ttl_lapses_is_no_longer_listed() -> None:
    now = [0.0]
    with consul_api_server(ConsulState(now=lambda: now[0])) as (addr, _):
        discovery = fast(addr, heartbeat_secs=3600.0, ttl_secs=10.0)
        discovery.register("ps", 0, "127.0.0.1:1000")
        listed = discovery.query("ps")

        now[0] = 11.0

        assert listed == {0: "127.0.0.1:1000"}
        assert discovery.query("ps") == {}
        discovery.close()


def test_the_heartbeat_keeps_passing_the_ttl_check() -> None:
    now = [0.0]
    with consul_api_server(ConsulState(now=lambda: now[0])) as (addr, state):
        discovery = fast(addr, heartbeat_secs=0.01, ttl_secs=10.0)
        discovery.register("ps", 0, "127.0.0.1:1000")
        now[0] = 9.0
        check = next(iter(state.checks.values()))
        for _ in range(500):
            if check["updated"] == 9.0:
                break
            time.sleep(0.01)
        now[0] = 15.0

        assert discovery.query("ps") == {0: "127.0.0.1:1000"}
        discovery.close()


def test_a_blacklisted_machine_fails_registration_after_the_polls() -> None:
    with consul_api_server() as (addr, state):
        state.blacklist.add("10.1.1.1")
        clock = ManualClock()
        discovery = fast(addr, clock=clock, poll_secs=5.0, max_polls=36)
        start = clock.monotonic()

        with pytest.raises(DiscoveryError, match="blacklisted by consul"):
            discovery.register("ps", 0, "10.1.1.1:1000")

        assert clock.monotonic() - start == pytest.approx(35 * 5.0)
        discovery.close()


def test_register_replaces_a_record_left_by_another_client() -> None:
    with consul_api_server() as (addr, _):
        old = fast(addr)
        new = ConsulDiscovery(
            addr, old._service, clock=ManualClock(), poll_secs=0.0, retry_time_secs=0
        )
        old.register("ps", 0, "127.0.0.1:1000")

        new.register("ps", 0, "127.0.0.1:2000")

        assert old.query("ps") == {0: "127.0.0.1:2000"}
        new.close()
        old.close()


def test_a_wrong_acl_token_is_refused() -> None:
    with consul_api_server() as (addr, state):
        state.acl_token = "right"
        good = fast(addr, token="right")
        good.register("ps", 0, "127.0.0.1:1000")
        bad = ConsulDiscovery(addr, good._service, token="wrong", clock=ManualClock())

        with pytest.raises(DiscoveryError, match="permission denied"):
            bad.register("ps", 1, "127.0.0.1:1001")

        assert bad.query("ps") == {}
        assert good.query("ps") == {0: "127.0.0.1:1000"}
        bad.close()
        good.close()


def test_an_unreachable_agent_is_retried_then_reported() -> None:
    with consul_api_server() as (addr, _):
        pass  # the port is free again once the server is closed
    clock = ManualClock()
    discovery = fast(addr, clock=clock, http_retries=5, max_backoff_secs=5.0)
    start = clock.monotonic()

    with pytest.raises(DiscoveryError, match="after 5 tries"):
        discovery.query("ps")

    assert 0 <= clock.monotonic() - start <= 4 * 5.0
    discovery.close()
