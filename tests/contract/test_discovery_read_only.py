"""The TF_CONFIG and MLP-environment adapters run the read-only contract."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import ClassVar

import pytest

from monolith.adapters.discovery.mlp_env import MlpEnvDiscovery
from monolith.adapters.discovery.tf_config import TfConfigDiscovery
from monolith.domain.errors import ConfigError, DiscoveryError
from monolith.ports.discovery import ServiceDiscovery
from monolith.testing.contracts.discovery import ReadOnlyDiscoveryContract

pytestmark = pytest.mark.contract

TF_CONFIG = {
    "cluster": {
        "chief": ["host0:2222"],
        "ps": ["host1:2222", "host2:2222"],
        "worker": ["host3:2222", "host4:2222", "host5:2222"],
    },
    "task": {"type": "worker", "index": 1},
}

MLP_ENV = {
    "MLP_PS_NUM": "2",
    "MLP_PS_0_HOST": "10.0.0.1",
    "MLP_PS_0_PORT": "2000",
    "MLP_PS_1_PRIMARY_HOST": "fe80::1",
    "MLP_PS_1_PORT": "2001",
    "MLP_WORKER_NUM": "1",
    "MLP_WORKER_0_HOST": "10.0.0.9",
    "MLP_WORKER_0_PORT": "3000",
    "MLP_ROLE": "PS",
    "MLP_ROLE_INDEX": "1",
}


class TestTfConfigDiscovery(ReadOnlyDiscoveryContract):
    known: ClassVar[dict[str, dict[int, str]]] = {
        "ps": {0: "host1:2222", 1: "host2:2222"},
        "worker": {0: "host0:2222", 1: "host3:2222", 2: "host4:2222", 3: "host5:2222"},
    }

    @pytest.fixture
    def discovery(self) -> Iterator[ServiceDiscovery]:
        with TfConfigDiscovery(json.dumps(TF_CONFIG)) as discovery:
            yield discovery


class TestMlpEnvDiscovery(ReadOnlyDiscoveryContract):
    known: ClassVar[dict[str, dict[int, str]]] = {
        "ps": {0: "10.0.0.1:2000", 1: "[fe80::1]:2001"},
        "worker": {0: "10.0.0.9:3000"},
    }

    @pytest.fixture
    def discovery(self) -> Iterator[ServiceDiscovery]:
        with MlpEnvDiscovery(MLP_ENV) as discovery:
            yield discovery


def test_tf_config_maps_the_chief_to_worker_zero_and_shifts_workers() -> None:
    discovery = TfConfigDiscovery(TF_CONFIG)

    assert (discovery.server_type, discovery.index) == ("worker", 2)
    assert discovery.addr == "host4:2222"


def test_tf_config_refuses_roles_it_does_not_know() -> None:
    with pytest.raises(DiscoveryError, match="no role 'serving'"):
        TfConfigDiscovery(TF_CONFIG).query("serving")


def test_a_local_alias_of_the_known_port_may_register() -> None:
    discovery = TfConfigDiscovery(TF_CONFIG)

    discovery.register("ps", 0, "0.0.0.0:2222")

    assert discovery.query("ps")[0] == "host1:2222"


def test_mlp_reports_its_own_role_and_address() -> None:
    discovery = MlpEnvDiscovery({**MLP_ENV, "MLP_PORT": "2001"})

    assert (discovery.server_type, discovery.index) == ("ps", 1)
    assert discovery.addr == "[fe80::1]:2001"


def test_mlp_with_a_missing_port_names_the_variable() -> None:
    env = {k: v for k, v in MLP_ENV.items() if k != "MLP_PS_0_PORT"}

    with pytest.raises(ConfigError, match="MLP_PS_0_PORT"):
        MlpEnvDiscovery(env)


def test_mlp_with_a_malformed_count_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="MLP_PS_NUM"):
        MlpEnvDiscovery({**MLP_ENV, "MLP_PS_NUM": "two"})
