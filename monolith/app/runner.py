"""Runner utilities: which discovery a process uses, and the guard closing it.

Follows BEHAVIOUR.md §9.1/§9.2 and decision 4: a local run uses no discovery;
otherwise ``discovery_type`` (unset already became ``zk`` in the runner
config) picks the adapter through the container's ``discovery`` selector.
``tf_config`` also fixes this process's role and index from ``TF_CONFIG``
(:func:`role_from_tf_config`). Environment variables (``ZK_AUTH``,
``TF_CONFIG``, ``MLP_*``) are read here, in the app layer, and passed to the
adapters as values.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping

from monolith.domain.config import RunnerConfig
from monolith.domain.errors import ConfigError
from monolith.ports.discovery import ServiceDiscovery

logger = logging.getLogger(__name__)

DiscoveryFactory = Callable[[RunnerConfig], ServiceDiscovery]


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def make_zk_discovery(
    runner: RunnerConfig, environ: Mapping[str, str] | None = None
) -> ServiceDiscovery:
    """ZooKeeper at ``zk_servers`` under ``/monolith/<job_name>``; ``ZK_AUTH``."""
    from monolith.adapters.discovery.zk_discovery import ZkDiscovery

    hosts = ",".join(runner.zk_servers)
    auth = _env(environ).get("ZK_AUTH") or None
    logger.info("discovery opened kind=zk hosts=%s job=%s", hosts, runner.job_name)
    return ZkDiscovery(hosts, runner.job_name, auth=auth)


def make_consul_discovery(
    runner: RunnerConfig, environ: Mapping[str, str] | None = None
) -> ServiceDiscovery:
    """Consul agent at ``CONSUL_HTTP_ADDR`` (else ``consul_addr``), service = job.

    ``CONSUL_HTTP_TOKEN``, when set, is the ACL token.
    """
    from monolith.adapters.discovery.consul_discovery import ConsulDiscovery

    env = _env(environ)
    addr = env.get("CONSUL_HTTP_ADDR", "").split("//")[-1] or runner.consul_addr
    token = env.get("CONSUL_HTTP_TOKEN") or None
    logger.info("discovery opened kind=consul addr=%s job=%s", addr, runner.job_name)
    return ConsulDiscovery(addr, runner.job_name, token=token)


def make_file_discovery(runner: RunnerConfig) -> ServiceDiscovery:
    """A shared directory, ``file_discovery_dir``."""
    from monolith.adapters.discovery.file_discovery import FileDiscovery

    if not runner.file_discovery_dir:
        raise ConfigError(
            "discovery_type='file' needs file_discovery_dir (a directory every "
            "process of the job can reach)"
        )
    logger.info("discovery opened kind=file dir=%s", runner.file_discovery_dir)
    return FileDiscovery(runner.file_discovery_dir)


def make_memory_discovery(runner: RunnerConfig) -> ServiceDiscovery:
    """An in-process registry (one process only)."""
    from monolith.adapters.discovery.in_memory import InMemoryDiscovery

    return InMemoryDiscovery()


def make_tf_config_discovery(
    runner: RunnerConfig, environ: Mapping[str, str] | None = None
) -> ServiceDiscovery:
    """Read-only roles from ``TF_CONFIG`` (Primus)."""
    from monolith.adapters.discovery.tf_config import TfConfigDiscovery
    from monolith.domain.tf_config import tf_config_from_env

    parsed = tf_config_from_env(_env(environ))
    if parsed is None:
        raise ConfigError("discovery_type='tf_config' but TF_CONFIG is not set")
    return TfConfigDiscovery(parsed)


def make_mlp_discovery(
    runner: RunnerConfig, environ: Mapping[str, str] | None = None
) -> ServiceDiscovery:
    """Read-only roles from ``MLP_*`` environment variables."""
    from monolith.adapters.discovery.mlp_env import MlpEnvDiscovery

    return MlpEnvDiscovery(dict(_env(environ)))


def role_from_tf_config(
    runner: RunnerConfig, environ: Mapping[str, str] | None = None
) -> tuple[str, int]:
    """``(server_type, index)`` of this process: from TF_CONFIG under tf_config.

    The original overwrites the runner config's role with TF_CONFIG's (the
    chief is worker 0, workers shift by one, §9.1); other discovery types keep
    the configured role.
    """
    if runner.discovery_type != "tf_config":
        return runner.server_type, runner.index
    from monolith.domain.tf_config import tf_config_from_env

    parsed = tf_config_from_env(_env(environ))
    if parsed is None:
        raise ConfigError("discovery_type='tf_config' but TF_CONFIG is not set")
    if (parsed.server_type, parsed.index) != (runner.server_type, runner.index):
        logger.info(
            "role rewritten from TF_CONFIG server_type=%s->%s index=%d->%d",
            runner.server_type,
            parsed.server_type,
            runner.index,
            parsed.index,
        )
    return parsed.server_type, parsed.index


@contextlib.contextmanager
def discovery_guard(
    runner: RunnerConfig, factory: DiscoveryFactory | None = None
) -> Iterator[ServiceDiscovery | None]:
    """The job's discovery for a ``with`` block, always closed on the way out.

    A local run (``is_local``) yields None and builds nothing. Otherwise the
    adapter comes from ``factory`` (by default the container's ``discovery``
    selector for ``runner``); it is closed when the block ends, normally or by
    an exception, and the exception propagates.
    """
    if runner.is_local:
        yield None
        return
    if factory is None:
        from monolith.app.container import Container

        container = Container.from_config(runner)
        discovery: ServiceDiscovery = container.discovery()
    else:
        discovery = factory(runner)
    try:
        yield discovery
    finally:
        discovery.close()
