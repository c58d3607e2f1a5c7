"""The in-memory and directory-backed discovery adapters run the contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monolith.adapters.discovery.file_discovery import FileDiscovery
from monolith.adapters.discovery.in_memory import InMemoryDiscovery, InMemoryRegistry
from monolith.ports.discovery import ServiceDiscovery
from monolith.testing.contracts.discovery import DiscoveryContract

pytestmark = pytest.mark.contract


class TestInMemoryDiscovery(DiscoveryContract):
    @pytest.fixture
    def discovery(self) -> Iterator[ServiceDiscovery]:
        with InMemoryDiscovery() as discovery:
            yield discovery


class TestFileDiscovery(DiscoveryContract):
    @pytest.fixture
    def discovery(self, tmp_path: Path) -> Iterator[ServiceDiscovery]:
        with FileDiscovery(tmp_path / "discovery") as discovery:
            yield discovery


def test_clients_sharing_a_registry_see_each_other_and_close_withdraws_own() -> None:
    registry = InMemoryRegistry()
    ps, worker = InMemoryDiscovery(registry), InMemoryDiscovery(registry)
    ps.register("ps", 0, "127.0.0.1:1000")
    worker.register("worker", 0, "127.0.0.1:2000")

    ps.close()

    assert worker.query("ps") == {}
    assert worker.query("worker") == {0: "127.0.0.1:2000"}


def test_file_discovery_is_shared_through_the_directory(tmp_path: Path) -> None:
    first, second = FileDiscovery(tmp_path), FileDiscovery(tmp_path)
    first.register("ps", 0, "127.0.0.1:1000")

    seen = second.query("ps")
    first.close()

    assert seen == {0: "127.0.0.1:1000"}
    assert second.query("ps") == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_file_discovery_leaves_no_temporary_files(tmp_path: Path) -> None:
    discovery = FileDiscovery(tmp_path)

    for port in range(1000, 1010):
        discovery.register("ps", 0, f"127.0.0.1:{port}")

    assert [p.name for p in tmp_path.iterdir()] == ["ps.0"]
    assert (tmp_path / "ps.0").read_text() == "127.0.0.1:1009"
