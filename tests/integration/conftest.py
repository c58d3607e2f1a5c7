"""Fixtures for tests against real servers (ZooKeeper)."""

from __future__ import annotations

from tests.integration.zk_fixtures import (  # noqa: F401  (pytest fixtures)
    zk_ensemble,
    zk_private_server,
    zk_server,
)
