"""The service discovery a distributed worker uses, chosen by ``discovery_type``."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from monolith.domain.config import RunnerConfig
from monolith.domain.errors import ConfigError
from monolith.ports.discovery import ServiceDiscovery

logger = logging.getLogger(__name__)

SUPPORTED = ("zk", "file")


def open_discovery(
    runner: RunnerConfig, environ: Mapping[str, str] | None = None
) -> ServiceDiscovery:
    """A discovery client for a multi-process job.

    ``zk`` connects to ``zk_servers`` under ``/monolith/<job_name>`` (digest
    auth from ``ZK_AUTH`` when set); ``file`` uses ``file_discovery_dir``.

    Raises:
        ConfigError: ``discovery_type`` cannot reach other processes.
    """
    env = os.environ if environ is None else environ
    kind = runner.discovery_type
    if kind == "zk":
        from monolith.adapters.discovery.zk_discovery import ZkDiscovery

        hosts = ",".join(runner.zk_servers)
        logger.info("discovery opened kind=zk hosts=%s job=%s", hosts, runner.job_name)
        return ZkDiscovery(hosts, runner.job_name, auth=env.get("ZK_AUTH") or None)
    if kind == "file":
        from monolith.adapters.discovery.file_discovery import FileDiscovery

        assert runner.file_discovery_dir is not None  # checked by the config
        logger.info("discovery opened kind=file dir=%s", runner.file_discovery_dir)
        return FileDiscovery(runner.file_discovery_dir)
    # TODO(#7): consul, tf_config and mlp once the discovery factory lands.
    raise ConfigError(
        f"discovery_type={kind!r} (from {runner.source_of('discovery_type')}) is not "
        f"supported by monolith worker yet: use one of {', '.join(SUPPORTED)}"
    )
