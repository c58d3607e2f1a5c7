"""Discovery from ``TF_CONFIG`` (Primus and other TF launchers), read-only."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from monolith.adapters.discovery.read_only import ReadOnlyDiscovery
from monolith.domain.tf_config import TfConfig, parse_tf_config

logger = logging.getLogger(__name__)


class TfConfigDiscovery(ReadOnlyDiscovery):
    """ServiceDiscovery over a parsed ``TF_CONFIG``, as the original's.

    Backend: none; the cluster is fixed. ``query("ps")`` enumerates
    ``cluster.ps``; ``query("worker")`` is the chief followed by the workers,
    so the chief is worker 0 and TF worker ``i`` is monolith worker ``i+1``.
    Other names raise DiscoveryError. :attr:`server_type`, :attr:`index` and
    :attr:`addr` give this process's own role (the chief reported as worker).

    Config keys: ``TF_CONFIG`` (read by the app layer and passed in, as a
    :class:`~monolith.domain.tf_config.TfConfig`, the JSON text or the
    decoded dict).

    Warning:
        Register/deregister do not reach any server: they only check the
        address and show or hide it in this object's ``query``.
    """

    def __init__(self, tf_config: TfConfig | str | Mapping[str, Any]) -> None:
        if isinstance(tf_config, TfConfig):
            parsed = tf_config
        elif isinstance(tf_config, str):
            parsed = parse_tf_config(tf_config)
        else:
            import json

            parsed = parse_tf_config(json.dumps(dict(tf_config)))
        self.tf_config = parsed
        super().__init__(
            {"ps": parsed.query("ps"), "worker": parsed.query("worker")}, "TF_CONFIG"
        )

    @property
    def server_type(self) -> str:
        return self.tf_config.server_type

    @property
    def index(self) -> int:
        return self.tf_config.index

    @property
    def addr(self) -> str:
        return self.tf_config.addr
