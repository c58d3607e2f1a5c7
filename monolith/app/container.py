"""The composition root: adapters chosen from the merged config.

Only this module (and CLI entry functions) touch dependency_injector. Adapter
modules are imported inside small factory functions, so building the container
loads no heavy library until a provider is actually called.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from monolith.adapters.clock.manual import ManualClock
from monolith.adapters.clock.system import SystemClock


class Container(containers.DeclarativeContainer):
    """Adapters selected by ``config`` keys (see ``RunConfig``)."""

    config = providers.Configuration()

    clock = providers.Selector(
        config.clock.as_(str),
        system=providers.Singleton(SystemClock),
        manual=providers.Singleton(ManualClock),
    )
