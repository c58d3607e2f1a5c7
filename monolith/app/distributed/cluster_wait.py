"""Waiting for the roles of a cluster to appear in service discovery."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from monolith.domain.errors import DiscoveryTimeoutError
from monolith.ports.clock import Clock
from monolith.ports.discovery import ServiceDiscovery

logger = logging.getLogger(__name__)

DEFAULT_POLL_SECS = 0.2


def missing_roles(
    found: Mapping[str, Mapping[int, str]], needed: Mapping[str, int]
) -> list[str]:
    """``name.index`` of every needed task not in ``found``, in role order."""
    return [
        f"{name}.{index}"
        for name, count in needed.items()
        for index in range(count)
        if index not in found.get(name, {})
    ]


def wait_for_roles(
    discovery: ServiceDiscovery,
    needed: Mapping[str, int],
    *,
    timeout: float,
    clock: Clock,
    poll_secs: float = DEFAULT_POLL_SECS,
) -> dict[str, dict[int, str]]:
    """Poll discovery until tasks ``0..count-1`` of every needed role are registered.

    Args:
        discovery: Where the roles register.
        needed: ``{role: count}``, e.g. ``{"ps": 2, "chief": 1}``.
        timeout: Seconds to wait in all.
        clock: Time for the deadline and the pauses.
        poll_secs: Pause between queries.

    Returns:
        ``{role: {index: addr}}`` with exactly indices ``0..count-1`` per role.

    Raises:
        DiscoveryTimeoutError: some task is still missing at the deadline;
            the message names every missing ``role.index``.
        DiscoveryError: the backend failed.
    """
    end = clock.monotonic() + timeout
    last_missing: list[str] | None = None
    while True:
        found = {name: discovery.query(name) for name in needed}
        missing = missing_roles(found, needed)
        if not missing:
            chosen = {
                name: {i: found[name][i] for i in range(count)}
                for name, count in needed.items()
            }
            logger.info(
                "cluster roles found %s",
                " ".join(
                    f"{name}={','.join(addrs.values())}"
                    for name, addrs in chosen.items()
                ),
            )
            return chosen
        if missing != last_missing:
            logger.info("waiting for roles missing=%s", ",".join(missing))
            last_missing = missing
        remaining = end - clock.monotonic()
        if remaining <= 0:
            raise DiscoveryTimeoutError(
                f"roles {', '.join(missing)} did not register in discovery within "
                f"{timeout:.1f}s; start them (monolith ps / monolith worker) with "
                "the same --job-name and discovery, or raise the wait"
            )
        clock.sleep(min(poll_secs, remaining))
