"""Waiting for cluster roles in discovery, with a deadline naming what is missing."""

from __future__ import annotations

import pytest

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.discovery.in_memory import InMemoryDiscovery
from monolith.app.distributed.cluster_wait import missing_roles, wait_for_roles
from monolith.domain.errors import DiscoveryTimeoutError

pytestmark = pytest.mark.unit


def test_every_needed_role_present_returns_the_lowest_indices() -> None:
    discovery = InMemoryDiscovery()
    for index, port in enumerate((7001, 7002, 7003)):
        discovery.register("ps", index, f"127.0.0.1:{port}")
    discovery.register("chief", 0, "127.0.0.1:7100")

    found = wait_for_roles(
        discovery, {"ps": 2, "chief": 1}, timeout=1.0, clock=ManualClock()
    )

    assert found == {
        "ps": {0: "127.0.0.1:7001", 1: "127.0.0.1:7002"},
        "chief": {0: "127.0.0.1:7100"},
    }


def test_a_missing_role_times_out_with_an_error_naming_it() -> None:
    discovery = InMemoryDiscovery()
    discovery.register("ps", 0, "127.0.0.1:7001")
    clock = ManualClock()

    with pytest.raises(DiscoveryTimeoutError, match=r"ps\.1, chief\.0.*5\.0s"):
        wait_for_roles(discovery, {"ps": 2, "chief": 1}, timeout=5.0, clock=clock)

    assert clock.monotonic() >= ManualClock().monotonic() + 5.0


def test_missing_roles_lists_gaps_in_role_order() -> None:
    found = {"ps": {0: "a:1", 2: "a:3"}}

    assert missing_roles(found, {"ps": 3, "worker": 1}) == ["ps.1", "worker.0"]
