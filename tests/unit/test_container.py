"""The container picks adapters from the merged config."""

from __future__ import annotations

import subprocess
import sys

import pytest
from dependency_injector import providers

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.clock.system import SystemClock
from monolith.adapters.storage.local import LocalFileSystem
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.app.container import Container, adapter_selector
from monolith.domain.config import RunConfig, RunnerConfig
from monolith.domain.config_merge import merge_run_config
from monolith.domain.errors import ConfigError

pytestmark = pytest.mark.unit


def test_the_default_config_gets_the_system_clock_and_local_storage() -> None:
    container = Container.from_config(RunConfig())

    assert isinstance(container.clock(), SystemClock)
    assert isinstance(container.storage(), LocalFileSystem)


def test_clock_manual_selects_the_manual_clock() -> None:
    container = Container.from_config(RunConfig(clock="manual"))

    assert isinstance(container.clock(), ManualClock)


def test_storage_memory_selects_the_in_memory_file_system() -> None:
    container = Container.from_config(merge_run_config(cli_sets=["storage=memory"]))

    assert isinstance(container.storage(), InMemoryFileSystem)


def test_adapters_are_singletons_within_one_container() -> None:
    container = Container.from_config(RunConfig(clock="manual"))

    assert container.clock() is container.clock()


def test_two_containers_do_not_share_adapters() -> None:
    first = Container.from_config(RunConfig(storage="memory"))
    second = Container.from_config(RunConfig(storage="memory"))

    assert first.storage() is not second.storage()


def test_the_runner_config_is_available_with_rewrites_applied() -> None:
    container = Container.from_config(RunConfig(num_ps=2))

    runner = container.runner_config()
    assert isinstance(runner, RunnerConfig)
    assert runner.num_ps == 2
    assert runner.discovery_type == "zk"


def test_a_runner_config_is_used_as_given() -> None:
    runner = RunnerConfig(clock="manual", embedding_prefetch_capacity=0)

    container = Container.from_config(runner)

    assert container.runner_config() is runner
    assert isinstance(container.clock(), ManualClock)


def test_a_choice_without_a_registered_adapter_names_field_and_choices() -> None:
    selector = adapter_selector(
        "storage",
        providers.Object("s3"),
        local=providers.Object("local-fs"),
        memory=providers.Object("memory-fs"),
    )

    with pytest.raises(ConfigError) as info:
        selector()

    assert "storage='s3' has no adapter registered" in str(info.value)
    assert "available: local, memory" in str(info.value)


def test_every_storage_choice_of_the_config_has_an_adapter() -> None:
    container = Container.from_config(RunnerConfig(storage="memory"))

    assert isinstance(container.storage(), InMemoryFileSystem)


def test_building_the_container_imports_no_adapter_module() -> None:
    code = (
        "import sys\n"
        "from monolith.app.container import Container\n"
        "from monolith.domain.config import RunConfig\n"
        "Container.from_config(RunConfig())\n"
        "loaded = [m for m in sys.modules if m.startswith('monolith.adapters.')]\n"
        "assert not loaded, loaded\n"
    )

    subprocess.run([sys.executable, "-c", code], check=True)
