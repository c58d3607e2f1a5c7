"""Settings of ``monolith serve`` (decision 14) and how their layers merge.

Layers, lowest first: defaults, the ``[serve]`` table of a TOML config file,
then CLI flags the user actually gave. A flag left at its default never
overrides the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from monolith.domain.errors import ConfigError
from monolith.domain.serving import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_FIDS,
    DEFAULT_MAX_MESSAGE_BYTES,
    RequestLimits,
)


@attrs.frozen
class ServeSettings:
    """Everything the serving process needs to start.

    Attributes:
        export_dir: Directory of integer version subdirectories.
        host: Bind address (default loopback only).
        port: gRPC port; 0 picks a free one.
        workers: gRPC worker threads.
        grace: Seconds in-flight requests get to finish on SIGINT/SIGTERM.
        tls_cert: PEM certificate chain; with ``tls_key`` enables TLS.
        tls_key: PEM private key.
        metrics_port: Prometheus HTTP port; None disables it, 0 picks one.
        poll_interval: Seconds between scans of ``export_dir`` for new versions.
        max_message_bytes: Largest request or response accepted.
        max_batch: Largest batch a Predict may carry.
        max_fids: Most fids (all slots together) a Predict may carry.
    """

    export_dir: str
    host: str = "127.0.0.1"
    port: int = 8500
    workers: int = 4
    grace: float = 10.0
    tls_cert: str | None = None
    tls_key: str | None = None
    metrics_port: int | None = None
    poll_interval: float = 2.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_batch: int = DEFAULT_MAX_BATCH
    max_fids: int = DEFAULT_MAX_FIDS

    @property
    def limits(self) -> RequestLimits:
        return RequestLimits(max_batch=self.max_batch, max_fids=self.max_fids)

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


_FIELDS = {f.name: f for f in attrs.fields(ServeSettings)}
_TYPES: dict[str, type] = {
    "export_dir": str,
    "host": str,
    "port": int,
    "workers": int,
    "grace": float,
    "tls_cert": str,
    "tls_key": str,
    "metrics_port": int,
    "poll_interval": float,
    "max_message_bytes": int,
    "max_batch": int,
    "max_fids": int,
}


def _coerce(key: str, value: Any, source: str) -> Any:
    wanted = _TYPES[key]
    if value is None:
        return None
    if (
        wanted is float
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return float(value)
    if isinstance(value, wanted) and not isinstance(value, bool):
        return value
    raise ConfigError(f"{source}: serve.{key} must be {wanted.__name__}, got {value!r}")


def merge_serve_settings(
    file_values: Mapping[str, Any],
    cli_values: Mapping[str, Any],
    source: str = "config file",
) -> ServeSettings:
    """Defaults < ``file_values`` (the ``[serve]`` table) < ``cli_values``.

    Args:
        file_values: Keys of the config file's ``[serve]`` table.
        cli_values: Only the flags the user gave explicitly.
        source: Names the file in error messages.

    Raises:
        ConfigError: An unknown key, a mistyped value, a missing export_dir,
            TLS half-configured, or a non-positive worker count / limit.
    """
    merged: dict[str, Any] = {}
    for layer, values in ((source, file_values), ("command line", cli_values)):
        for key, value in values.items():
            name = key.replace("-", "_")
            if name not in _FIELDS:
                known = ", ".join(sorted(_FIELDS))
                raise ConfigError(
                    f"{layer}: unknown serve setting {key!r}; known: {known}"
                )
            merged[name] = _coerce(name, value, layer)
    if not merged.get("export_dir"):
        raise ConfigError(
            "serve needs --export-dir (or serve.export_dir in the config)"
        )
    settings = ServeSettings(**merged)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("TLS needs both --tls-cert and --tls-key, got only one")
    for name in ("workers", "max_message_bytes", "max_batch", "max_fids"):
        if getattr(settings, name) <= 0:
            raise ConfigError(
                f"serve.{name} must be positive, got {getattr(settings, name)}"
            )
    if settings.grace < 0 or settings.poll_interval <= 0:
        raise ConfigError(
            "serve.grace must be >= 0 and serve.poll_interval > 0, got "
            f"{settings.grace} and {settings.poll_interval}"
        )
    if not 0 <= settings.port <= 65535:
        raise ConfigError(f"serve.port must be in 0..65535, got {settings.port}")
    return settings
