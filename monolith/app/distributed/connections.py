"""Connections a worker (re)opens: to the PS and to the chief, through discovery."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from monolith.app.distributed.cluster_wait import wait_for_roles
from monolith.domain.errors import CoordinatorUnavailableError, ShardUnavailableError
from monolith.ports.clock import Clock
from monolith.ports.compute import Float32Array
from monolith.ports.discovery import ServiceDiscovery

if TYPE_CHECKING:
    from monolith.adapters.coordination.grpc_client import GrpcCoordinatorClient
    from monolith.adapters.parameters.grpc_client import GrpcParameterStore

logger = logging.getLogger(__name__)

CHIEF_ROLE = "chief"
PS_ROLE = "ps"


def connect_ps(
    discovery: ServiceDiscovery,
    num_ps: int,
    *,
    deadline: float,
    timeout: float,
    clock: Clock,
) -> GrpcParameterStore:
    """A store over PS ``0..num_ps-1`` as discovery names them, once all answer.

    A PS that is registered but does not answer (killed, restarting, cut
    off) is looked up again until ``timeout`` passes.

    Raises:
        DiscoveryTimeoutError: a PS is not registered within ``timeout``.
        ShardUnavailableError: a PS does not answer within ``timeout``.
    """
    from monolith.adapters.parameters.grpc_client import GrpcParameterStore

    end = clock.monotonic() + timeout
    while True:
        found = wait_for_roles(
            discovery,
            {PS_ROLE: num_ps},
            timeout=max(end - clock.monotonic(), 0.0),
            clock=clock,
        )
        store = GrpcParameterStore(
            [found[PS_ROLE][i] for i in range(num_ps)], deadline=deadline
        )
        try:
            store.wait_ready(min(deadline, max(end - clock.monotonic(), 0.1)))
            return store
        except ShardUnavailableError:
            store.close()
            if clock.monotonic() >= end:
                raise
            clock.sleep(0.5)


def connect_chief(
    discovery: ServiceDiscovery,
    index: int,
    *,
    deadline: float,
    timeout: float,
    clock: Clock,
) -> GrpcCoordinatorClient:
    """A client of the chief that discovery names, once it answers.

    Raises:
        DiscoveryTimeoutError: no chief is registered within ``timeout``.
        CoordinatorUnavailableError: no registered chief answers in ``timeout``.
    """
    from monolith.adapters.coordination.grpc_client import GrpcCoordinatorClient

    end = clock.monotonic() + timeout
    while True:
        found = wait_for_roles(
            discovery,
            {CHIEF_ROLE: 1},
            timeout=max(end - clock.monotonic(), 0.0),
            clock=clock,
        )
        client = GrpcCoordinatorClient(found[CHIEF_ROLE][0], deadline=deadline)
        try:
            client.status(index)
            return client
        except CoordinatorUnavailableError:
            client.close()
            if clock.monotonic() >= end:
                raise
            clock.sleep(0.5)


def parameters_digest(params: Mapping[str, Float32Array]) -> str:
    """A short sha256 of dense parameters; equal on ranks that agree exactly."""
    digest = hashlib.sha256()
    for name in sorted(params):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(params[name], dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]
