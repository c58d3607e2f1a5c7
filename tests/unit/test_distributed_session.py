"""Sync ranks from the launcher environment, and the all-reduce meeting point."""

from __future__ import annotations

import pytest

from monolith.app.distributed.session import open_allreduce, sync_ranks
from monolith.domain.errors import ConfigError, UsageError
from monolith.domain.launcher_env import parse_launcher_env

pytestmark = pytest.mark.unit

TORCHRUN = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}


def test_torchrun_variables_give_the_index_and_worker_count() -> None:
    assert sync_ranks(parse_launcher_env(TORCHRUN), None, None) == (1, 2)


def test_openmpi_variables_give_the_index_and_worker_count() -> None:
    env = {"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4"}

    assert sync_ranks(parse_launcher_env(env), None, 4) == (3, 4)


def test_an_index_contradicting_the_launcher_is_an_error_naming_both() -> None:
    with pytest.raises(ConfigError, match=r"--index 0 contradicts.*rank=1.*RANK"):
        sync_ranks(parse_launcher_env(TORCHRUN), 0, None)


def test_without_a_launcher_explicit_values_are_used_and_required() -> None:
    env = parse_launcher_env({})

    assert sync_ranks(env, 0, 3) == (0, 3)
    with pytest.raises(UsageError, match="torchrun"):
        sync_ranks(env, None, None)


def test_env_init_without_master_address_says_what_to_set() -> None:
    with pytest.raises(UsageError, match="MASTER_ADDR and MASTER_PORT"):
        open_allreduce(0, 2, "env://", 10.0, {})
