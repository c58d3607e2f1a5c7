"""Discovery selection through the container, and the guard that closes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monolith.adapters.discovery.file_discovery import FileDiscovery
from monolith.adapters.discovery.in_memory import InMemoryDiscovery
from monolith.adapters.discovery.tf_config import TfConfigDiscovery
from monolith.app.container import Container
from monolith.app.runner import discovery_guard, role_from_tf_config
from monolith.domain.config import RunnerConfig
from monolith.domain.errors import ConfigError, DiscoveryError

pytestmark = pytest.mark.unit

TF_CONFIG = json.dumps(
    {
        "cluster": {"chief": ["h0:1"], "ps": ["h1:1", "h2:1"], "worker": ["h3:1"]},
        "task": {"type": "worker", "index": 0},
    }
)


def test_a_local_run_gets_no_discovery() -> None:
    with discovery_guard(RunnerConfig(is_local=True)) as discovery:
        assert discovery is None


def test_the_container_selects_the_file_adapter(tmp_path: Path) -> None:
    runner = RunnerConfig(
        is_local=False, discovery_type="file", file_discovery_dir=str(tmp_path)
    )

    with discovery_guard(runner) as discovery:
        assert isinstance(discovery, FileDiscovery)


def test_the_container_selects_the_memory_adapter() -> None:
    container = Container.from_config(
        RunnerConfig(is_local=False, discovery_type="memory")
    )

    assert isinstance(container.discovery(), InMemoryDiscovery)


def test_tf_config_discovery_reads_the_environment_and_rewrites_the_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TF_CONFIG", TF_CONFIG)
    runner = RunnerConfig(is_local=False, discovery_type="tf_config")

    discovery = Container.from_config(runner).discovery()

    assert isinstance(discovery, TfConfigDiscovery)
    assert discovery.query("ps") == {0: "h1:1", 1: "h2:1"}
    assert role_from_tf_config(runner) == ("worker", 1)


def test_tf_config_discovery_without_tf_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="TF_CONFIG is not set"):
        Container.from_config(
            RunnerConfig(is_local=False, discovery_type="tf_config")
        ).discovery()


def test_the_guard_closes_the_discovery_when_the_body_raises() -> None:
    made: list[InMemoryDiscovery] = []

    def factory(runner: RunnerConfig) -> InMemoryDiscovery:
        made.append(InMemoryDiscovery())
        return made[0]

    with (
        pytest.raises(RuntimeError, match="boom"),
        discovery_guard(RunnerConfig(is_local=False), factory) as discovery,
    ):
        assert discovery is not None
        discovery.register("ps", 0, "127.0.0.1:1")
        raise RuntimeError("boom")

    with pytest.raises(DiscoveryError, match="closed"):
        made[0].query("ps")
