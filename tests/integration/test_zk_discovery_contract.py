"""ZkDiscovery runs the discovery contract against real ZooKeeper servers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from monolith.ports.discovery import ServiceDiscovery
from monolith.testing.contracts.discovery import DiscoveryContract
from tests.integration.zk_fixtures import ZkEnsemble, ZkServer

pytest.importorskip("kazoo")

from monolith.adapters.discovery.zk_discovery import ZkDiscovery  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def job() -> str:
    return f"job-{uuid.uuid4().hex[:12]}"


class TestZkDiscovery(DiscoveryContract):
    @pytest.fixture
    def discovery(self, zk_server: ZkServer) -> Iterator[ServiceDiscovery]:
        with ZkDiscovery(zk_server.hosts, job(), session_timeout=4.0) as discovery:
            yield discovery


class TestZkDiscoveryWithAuthInAChroot(DiscoveryContract):
    @pytest.fixture
    def discovery(self, zk_server: ZkServer) -> Iterator[ServiceDiscovery]:
        hosts = f"{zk_server.hosts}/team-{uuid.uuid4().hex[:8]}"
        with ZkDiscovery(
            hosts, job(), auth="trainer:secret", session_timeout=4.0
        ) as discovery:
            yield discovery


@pytest.mark.slow
class TestZkDiscoveryOnAnEnsemble(DiscoveryContract):
    @pytest.fixture
    def discovery(self, zk_ensemble: ZkEnsemble) -> Iterator[ServiceDiscovery]:
        with ZkDiscovery(zk_ensemble.hosts, job(), session_timeout=4.0) as discovery:
            yield discovery
