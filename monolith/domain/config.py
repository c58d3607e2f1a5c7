"""``RunConfig`` (what the user asks for) and ``RunnerConfig`` (what runs).

Decision 4 and BEHAVIOUR.md §8. A :class:`RunConfig` is built by the layered
merge (:func:`monolith.domain.config_merge.merge_run_config`: defaults < TOML
file < ``MONOLITH_*`` env < CLI flags < code) or directly in code, and knows
which fields were set and by which layer. :meth:`RunConfig.to_runner_config`
applies the original's compatibility rewrites, logs each one once at INFO,
checks the fields that depend on each other and returns the
:class:`RunnerConfig` that the container and the runtime consume.

Rewrites (§8.4), in order:
    * ``discovery_type`` left unset becomes ``zk`` (an explicit value stays).
    * Without ``enable_gpu_training``: ``embedding_prefetch_capacity`` becomes
      at least 1 and ``enable_embedding_postpush`` becomes true.
    * ``enable_parameter_sync`` turns ``enable_realtime_training`` on.

Divergence from the original: a value set explicitly is used even when it
equals a default (the original could not tell), and there is one default per
field, the runtime's: ``max_retry_times`` 0 and ``retry_wait_in_secs`` 30,
not the original RunConfig's unused 6 and 5.
"""

from __future__ import annotations

import logging

import attrs

from monolith.domain.config_fields import (
    DiscoveryType,
    Settings,
    setting,
)
from monolith.domain.config_values import UNSET, Layer, Source
from monolith.domain.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "UNSET",
    "Layer",
    "Rewrite",
    "RunConfig",
    "RunnerConfig",
    "Source",
    "check_consistency",
    "plan_rewrites",
]


@attrs.frozen
class Rewrite:
    """One compatibility rewrite made by :meth:`RunConfig.to_runner_config`."""

    field: str
    before: object
    after: object
    reason: str


@attrs.frozen(kw_only=True)
class RunConfig(Settings):
    """The user-facing configuration of a run.

    ``RunConfig(num_ps=2)`` sets ``num_ps`` from code; every other field keeps
    its default and stays out of :meth:`user_overrides`. Use :meth:`replace`
    (not ``attrs.evolve``, which keeps the old provenance of changed fields)
    to derive a config with more code values.
    """

    def to_runner_config(self) -> RunnerConfig:
        """The runtime config, after the §8.4 rewrites (each logged once).

        Raises:
            ConfigError: Fields contradict each other (see
                :func:`check_consistency`).
        """
        rewrites = plan_rewrites(self)
        values = self.values()
        for rewrite in rewrites:
            logger.info(
                "config rewritten field=%s from=%r to=%r reason=%s",
                rewrite.field,
                rewrite.before,
                rewrite.after,
                rewrite.reason,
            )
            values[rewrite.field] = rewrite.after
        return RunnerConfig(**values, sources=self.sources, rewrites=tuple(rewrites))


@attrs.frozen(kw_only=True)
class RunnerConfig(Settings):
    """The configuration the runtime and the container consume.

    Build it with :meth:`RunConfig.to_runner_config`; constructing it directly
    (handy in tests) applies no rewrites but does check consistency.

    Attributes:
        rewrites: The rewrites that produced this config from a RunConfig.
    """

    discovery_type: DiscoveryType = setting("zk", "Service discovery adapter.")
    """Never none here: :meth:`RunConfig.to_runner_config` resolves it."""
    rewrites: tuple[Rewrite, ...] = attrs.field(default=(), eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        check_consistency(self)

    @property
    def is_chief(self) -> bool:
        """Local runs and worker 0 are the chief (restores, saves, barriers)."""
        return self.is_local or (self.server_type == "worker" and self.index == 0)


def plan_rewrites(config: RunConfig) -> list[Rewrite]:
    """The §8.4 rewrites ``config`` needs, in the order they are applied."""
    rewrites = []
    if config.discovery_type is None:
        rewrites.append(
            Rewrite("discovery_type", None, "zk", "unset discovery defaults to zk")
        )
    if not config.enable_gpu_training:
        if config.embedding_prefetch_capacity <= 0:
            rewrites.append(
                Rewrite(
                    "embedding_prefetch_capacity",
                    config.embedding_prefetch_capacity,
                    1,
                    "the original forces it on CPU training",
                )
            )
        if not config.enable_embedding_postpush:
            rewrites.append(
                Rewrite(
                    "enable_embedding_postpush",
                    False,
                    True,
                    "the original forces it on CPU training",
                )
            )
    if config.enable_parameter_sync and not config.enable_realtime_training:
        rewrites.append(
            Rewrite(
                "enable_realtime_training",
                False,
                True,
                "enable_parameter_sync implies enable_realtime_training",
            )
        )
    return rewrites


def check_consistency(config: RunnerConfig) -> None:
    """Reject fields that contradict each other.

    Raises:
        ConfigError: Both checkpoint cadences are set; ``discovery_type=file``
            without ``file_discovery_dir``; or, outside local runs, a role
            index out of range. The message names each field and its layer.
    """
    if (
        config.save_checkpoints_steps is not None
        and config.save_checkpoints_secs is not None
    ):
        raise ConfigError(
            f"save_checkpoints_steps (from {_src(config, 'save_checkpoints_steps')}) "
            f"and save_checkpoints_secs (from {_src(config, 'save_checkpoints_secs')})"
            " are both set; set only one"
        )
    if config.discovery_type == "file" and config.file_discovery_dir is None:
        raise ConfigError(
            f"discovery_type='file' (from {_src(config, 'discovery_type')}) "
            "needs file_discovery_dir; set it to the shared address directory"
        )
    if config.is_local:
        return
    if config.server_type == "ps" and config.index >= config.num_ps:
        raise ConfigError(
            f"index={config.index} (from {_src(config, 'index')}) is out of range "
            f"for a ps with num_ps={config.num_ps} (from {_src(config, 'num_ps')}); "
            f"expected 0 <= index < num_ps"
        )
    if config.server_type == "worker" and config.index >= config.num_workers:
        raise ConfigError(
            f"index={config.index} (from {_src(config, 'index')}) is out of range "
            f"for a worker with num_workers={config.num_workers} "
            f"(from {_src(config, 'num_workers')}); expected 0 <= index < num_workers"
        )


def _src(config: Settings, name: str) -> Source:
    return config.source_of(name)
