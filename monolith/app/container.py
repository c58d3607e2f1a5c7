"""The composition root: adapters chosen from the merged config.

Only this module (and CLI entry functions) touch dependency_injector. Adapter
modules are imported inside small factory functions, so building the container
loads no heavy library until a provider is actually called. Build it from a
config with :meth:`Container.from_config`; the typed
:class:`~monolith.domain.config.RunnerConfig` is the ``runner_config``
provider and its values fill ``config`` for the selectors.

How to add an adapter:
    1. Write ``monolith/adapters/<port>/<backend>.py`` implementing the port
       and run the port's contract suite against it in ``tests/contract``.
    2. Add a factory function below, ``_make_<backend>_<port>(runner)``,
       that imports the adapter module inside its body and builds the
       adapter from ``RunnerConfig`` fields (no extra arguments needed:
       ``_make_local_storage()``).
    3. Register it in that port's :func:`adapter_selector` under the config
       value that chooses it, e.g. ``hdfs=providers.Singleton(_make_hdfs_storage,
       runner_config)``. The value must be one of the field's ``Literal``
       choices in ``monolith/domain/config_fields.py`` (add it there if new).
    4. A port without a selector yet gets one:
       ``adapter_selector("<field>", config.<field>, <value>=..., ...)``.
    5. Test that ``Container.from_config(RunConfig(<field>="<value>"))`` gives
       the adapter (``tests/unit/test_container.py`` shows how).

A config value whose adapter is not registered fails, when the provider is
called, with a ConfigError naming the field and the registered values.
"""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from monolith.domain.config import RunConfig, RunnerConfig
from monolith.domain.errors import ConfigError
from monolith.ports.clock import Clock
from monolith.ports.discovery import ServiceDiscovery
from monolith.ports.storage import FileSystem


def adapter_selector(
    field: str, option: providers.Provider[Any], **choices: providers.Provider[Any]
) -> providers.Selector[Any]:
    """A ``Selector`` on config ``field`` that fails clearly on a missing choice."""
    key = providers.Callable(_checked_choice, field, option, tuple(choices))
    return providers.Selector(key, **choices)


def _checked_choice(field: str, value: object, available: tuple[str, ...]) -> str:
    if value not in available:
        raise ConfigError(
            f"{field}={value!r} has no adapter registered in the container; "
            f"available: {', '.join(available)}"
        )
    return str(value)


def _make_system_clock() -> Clock:
    from monolith.adapters.clock.system import SystemClock

    return SystemClock()


def _make_manual_clock() -> Clock:
    from monolith.adapters.clock.manual import ManualClock

    return ManualClock()


def _make_local_storage() -> FileSystem:
    from monolith.adapters.storage.local import LocalFileSystem

    return LocalFileSystem()


def _make_memory_storage() -> FileSystem:
    from monolith.adapters.storage.memory import InMemoryFileSystem

    return InMemoryFileSystem()


def _make_hdfs_storage(runner: RunnerConfig) -> FileSystem:
    """WebHDFS for the NameNode of ``model_dir`` (or MONOLITH_HDFS_NAMENODE)."""
    from monolith.app.storage import filesystem_for

    model_dir = runner.model_dir or ""
    uri = model_dir if model_dir.startswith("hdfs:") else "hdfs:/"
    return filesystem_for(uri)


def _make_discovery(kind: str, runner: RunnerConfig) -> ServiceDiscovery:
    """The ``discovery_type`` adapter; factories live in ``monolith.app.runner``."""
    from monolith.app import runner as runner_utils

    factory = getattr(runner_utils, f"make_{kind}_discovery")
    discovery: ServiceDiscovery = factory(runner)
    return discovery


class Container(containers.DeclarativeContainer):
    """Adapters selected by ``RunnerConfig`` fields."""

    config = providers.Configuration()
    runner_config = providers.Dependency(instance_of=RunnerConfig)

    clock = adapter_selector(
        "clock",
        config.clock,
        system=providers.Singleton(_make_system_clock),
        manual=providers.Singleton(_make_manual_clock),
    )

    storage = adapter_selector(
        "storage",
        config.storage,
        local=providers.Singleton(_make_local_storage),
        memory=providers.Singleton(_make_memory_storage),
        hdfs=providers.Singleton(_make_hdfs_storage, runner_config),
    )

    discovery = adapter_selector(
        "discovery_type",
        config.discovery_type,
        zk=providers.Singleton(_make_discovery, "zk", runner_config),
        consul=providers.Singleton(_make_discovery, "consul", runner_config),
        file=providers.Singleton(_make_discovery, "file", runner_config),
        memory=providers.Singleton(_make_discovery, "memory", runner_config),
        tf_config=providers.Singleton(_make_discovery, "tf_config", runner_config),
        mlp=providers.Singleton(_make_discovery, "mlp", runner_config),
    )

    @classmethod
    def from_config(cls, config: RunConfig | RunnerConfig) -> Container:
        """A container for ``config``; a RunConfig is converted (and rewritten)."""
        runner = config.to_runner_config() if isinstance(config, RunConfig) else config
        container = cls()
        container.runner_config.override(providers.Object(runner))
        container.config.from_dict(runner.values())
        return container
