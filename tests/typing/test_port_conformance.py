"""In-tree adapters match their ports, statically and at run time.

mypy checks the typed assignments below when run by hand
(``.venv/bin/mypy tests/typing``): an adapter whose methods drift from its
port no longer type-checks as the port. The tests check the same at run time
by comparing every port method's parameters with the adapter's.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.clock.system import SystemClock
from monolith.adapters.discovery.file_discovery import FileDiscovery
from monolith.adapters.discovery.in_memory import InMemoryDiscovery
from monolith.adapters.storage.local import LocalFileSystem
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.ports.clock import Clock
from monolith.ports.discovery import ServiceDiscovery
from monolith.ports.storage import FileSystem

pytestmark = pytest.mark.unit


def typed_clocks() -> list[Clock]:
    system: Clock = SystemClock()
    manual: Clock = ManualClock()
    return [system, manual]


def typed_file_systems() -> list[FileSystem]:
    local: FileSystem = LocalFileSystem()
    memory: FileSystem = InMemoryFileSystem()
    return [local, memory]


def typed_discoveries(directory: Path) -> list[ServiceDiscovery]:
    in_memory: ServiceDiscovery = InMemoryDiscovery()
    files: ServiceDiscovery = FileDiscovery(directory)
    return [in_memory, files]


def port_methods(port: type) -> list[str]:
    return sorted(
        name
        for name, member in vars(port).items()
        if callable(member)
        and (not name.startswith("_") or name in ("__enter__", "__exit__"))
    )


def assert_conforms(adapter: type, port: type) -> None:
    for name in port_methods(port):
        assert hasattr(adapter, name), (
            f"{adapter.__name__} lacks {port.__name__}.{name}"
        )
        wanted = inspect.signature(getattr(port, name)).parameters
        actual = inspect.signature(getattr(adapter, name)).parameters
        for param in wanted.values():
            assert param.name in actual, f"{adapter.__name__}.{name} lacks {param.name}"
            assert actual[param.name].kind == param.kind, f"{adapter.__name__}.{name}"
        for extra in set(actual) - set(wanted):
            assert actual[extra].default is not inspect.Parameter.empty, (
                f"{adapter.__name__}.{name} adds required parameter {extra}"
            )


@pytest.mark.parametrize(
    ("adapter", "port"),
    [
        (SystemClock, Clock),
        (ManualClock, Clock),
        (LocalFileSystem, FileSystem),
        (InMemoryFileSystem, FileSystem),
        (InMemoryDiscovery, ServiceDiscovery),
        (FileDiscovery, ServiceDiscovery),
    ],
    ids=lambda item: item.__name__,
)
def test_the_adapter_has_every_method_of_its_port(adapter: type, port: type) -> None:
    assert_conforms(adapter, port)


def test_clocks_typed_as_the_port_tell_time() -> None:
    for clock in typed_clocks():
        before = clock.monotonic()
        clock.sleep(0)

        assert clock.monotonic() >= before
        assert clock.now() > 0


def test_file_systems_and_discoveries_are_constructible_as_their_ports(
    tmp_path: Path,
) -> None:
    file_systems = typed_file_systems()
    discoveries = typed_discoveries(tmp_path)

    for discovery in discoveries:
        discovery.close()

    assert len(file_systems) == 2
    assert len(discoveries) == 2
