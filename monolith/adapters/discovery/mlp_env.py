"""Discovery from the ``MLP_*`` environment of ByteDance's MLP launcher, read-only."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from monolith.adapters.discovery.read_only import ReadOnlyDiscovery
from monolith.domain.addresses import Address, parse_address
from monolith.domain.errors import ConfigError

logger = logging.getLogger(__name__)

ROLES = ("ps", "worker", "chief", "serving")


def _number(env: Mapping[str, str], key: str) -> int:
    raw = env[key]
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not an integer") from None
    if value < 0:
        raise ConfigError(f"{key}={raw!r} must be >= 0")
    return value


def parse_mlp_roles(env: Mapping[str, str]) -> dict[str, dict[int, str]]:
    """``{role: {index: host:port}}`` from ``MLP_<ROLE>_NUM`` and friends.

    Task ``i`` of ``ROLE`` is at ``MLP_<ROLE>_<i>_HOST`` (else
    ``MLP_<ROLE>_<i>_PRIMARY_HOST``) and ``MLP_<ROLE>_<i>_PORT``; IPv6 hosts
    are bracketed. A role without ``MLP_<ROLE>_NUM`` is absent.

    Raises:
        ConfigError: a count or port is not an integer, or a task lacks a
            host or port; the message names the variable.
    """
    roles: dict[str, dict[int, str]] = {}
    for role in ROLES:
        key = f"MLP_{role.upper()}_NUM"
        if key not in env:
            continue
        entries: dict[int, str] = {}
        for i in range(_number(env, key)):
            prefix = f"MLP_{role.upper()}_{i}"
            host = env.get(f"{prefix}_HOST") or env.get(f"{prefix}_PRIMARY_HOST")
            if not host or f"{prefix}_PORT" not in env:
                raise ConfigError(
                    f"{key} says {env[key]} tasks but {prefix}_HOST (or "
                    f"_PRIMARY_HOST) and {prefix}_PORT are not both set"
                )
            port = _number(env, f"{prefix}_PORT")
            entries[i] = str(Address(host.strip("[]"), port))
        roles[role] = entries
    return roles


class MlpEnvDiscovery(ReadOnlyDiscovery):
    """ServiceDiscovery over the ``MLP_*`` variables of an MLP job.

    Backend: none; the cluster is fixed. Roles come from
    :func:`parse_mlp_roles`; this process's own role and address from
    ``MLP_ROLE``, ``MLP_ROLE_INDEX`` and ``MLP_PORT`` (:attr:`server_type`,
    :attr:`index`, :attr:`addr`).

    Config keys: the ``MLP_*`` environment, read by the app layer and passed
    in as a mapping.

    Warning:
        The original's ``query("ps")`` also waited (up to an hour) for each
        PS port to accept connections; this adapter does not probe — callers
        wait for readiness themselves (the worker's cluster wait does).
        MPI-launched workers (index = MPI rank, port = base + rank) are not
        handled here.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        roles = parse_mlp_roles(env)
        if not roles:
            raise ConfigError(
                "MLP discovery found no MLP_<ROLE>_NUM variable (e.g. MLP_PS_NUM)"
            )
        self.server_type = env.get("MLP_ROLE", "worker").lower()
        self.index = _number(env, "MLP_ROLE_INDEX") if "MLP_ROLE_INDEX" in env else 0
        own = roles.get(self.server_type, {}).get(self.index)
        if "MLP_PORT" in env and own is not None:
            own = str(Address(parse_address(own).host, _number(env, "MLP_PORT")))
        self.addr = own
        super().__init__(roles, "MLP environment")
