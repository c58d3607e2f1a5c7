"""Backend, rank and size from launcher variables (decision 7, BEHAVIOUR.md §6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.errors import ConfigError
from monolith.domain.launcher_env import (
    LauncherEnv,
    SyncBackend,
    parse_backend,
    parse_launcher_env,
)

pytestmark = pytest.mark.unit

OMPI = {
    "OMPI_COMM_WORLD_RANK": "3",
    "OMPI_COMM_WORLD_SIZE": "8",
    "OMPI_COMM_WORLD_LOCAL_RANK": "1",
    "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
}
TORCHRUN = {"RANK": "5", "WORLD_SIZE": "6", "LOCAL_RANK": "2", "LOCAL_WORLD_SIZE": "3"}
HOROVOD = {
    "HOROVOD_RANK": "1",
    "HOROVOD_SIZE": "4",
    "HOROVOD_LOCAL_RANK": "1",
    "HOROVOD_LOCAL_SIZE": "4",
}
BYTEPS = {
    "DMLC_WORKER_ID": "2",
    "DMLC_NUM_WORKER": "4",
    "BYTEPS_LOCAL_RANK": "0",
    "BYTEPS_LOCAL_SIZE": "2",
}


def numbers(env: LauncherEnv) -> tuple[int, int, int, int]:
    return env.rank, env.size, env.local_rank, env.local_size


@pytest.mark.parametrize(
    ("raw", "backend"),
    [(None, SyncBackend.HOROVOD), ("0", SyncBackend.HOROVOD), ("1", SyncBackend.BYTEPS)]
    + [("-2", SyncBackend.BYTEPS), (" 7 ", SyncBackend.BYTEPS)],
    ids=["unset", "zero", "one", "negative", "padded"],
)
def test_byteps_is_the_backend_when_the_switch_is_a_non_zero_integer(
    raw: str | None, backend: SyncBackend
) -> None:
    env = {} if raw is None else {"MONOLITH_WITH_BYTEPS": raw}

    assert parse_backend(env) is backend


@pytest.mark.parametrize("raw", ["true", "", "1.0", "yes"])
def test_a_non_integer_byteps_switch_is_an_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="MONOLITH_WITH_BYTEPS=") as info:
        parse_launcher_env({"MONOLITH_WITH_BYTEPS": raw})

    assert repr(raw) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_no_launcher_gives_the_defaults() -> None:
    env = parse_launcher_env({})

    assert numbers(env) == (0, 1, 0, 1)
    assert env.backend is SyncBackend.HOROVOD
    assert not env.launched
    assert env.is_chief
    assert set(env.sources.values()) == {"default"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [(OMPI, (3, 8, 1, 2)), (TORCHRUN, (5, 6, 2, 3)), (HOROVOD, (1, 4, 1, 4))],
    ids=["openmpi", "torchrun", "horovod"],
)
def test_each_launcher_alone_is_read(
    env: dict[str, str], expected: tuple[int, ...]
) -> None:
    parsed = parse_launcher_env(env)

    assert numbers(parsed) == expected
    assert parsed.launched


def test_horovod_variables_win_over_openmpi_and_torchrun() -> None:
    env = parse_launcher_env({**TORCHRUN, **OMPI, **HOROVOD})

    assert numbers(env) == (1, 4, 1, 4)
    assert env.sources["rank"] == "HOROVOD_RANK"


def test_openmpi_variables_win_over_torchrun() -> None:
    env = parse_launcher_env({**TORCHRUN, **OMPI})

    assert numbers(env) == (3, 8, 1, 2)
    assert env.sources["local_size"] == "OMPI_COMM_WORLD_LOCAL_SIZE"


def test_byteps_variables_are_read_only_when_byteps_is_the_backend() -> None:
    horovod = parse_launcher_env({**BYTEPS, **OMPI})
    byteps = parse_launcher_env({**BYTEPS, **OMPI, "MONOLITH_WITH_BYTEPS": "1"})

    assert numbers(horovod) == (3, 8, 1, 2)
    assert numbers(byteps) == (2, 4, 0, 2)
    assert byteps.sources["rank"] == "DMLC_WORKER_ID"


def test_each_field_falls_back_on_its_own() -> None:
    env = parse_launcher_env({"HOROVOD_RANK": "2", "WORLD_SIZE": "4"})

    assert numbers(env) == (2, 4, 0, 1)
    assert env.sources == {
        "rank": "HOROVOD_RANK",
        "size": "WORLD_SIZE",
        "local_rank": "default",
        "local_size": "default",
    }


def test_byteps_derives_local_rank_and_node_from_the_openmpi_rank() -> None:
    """BEHAVIOUR.md §6.4: OMPI rank 5, local size 4 -> local rank 1, node 1."""
    env = parse_launcher_env(
        {
            "MONOLITH_WITH_BYTEPS": "1",
            "OMPI_COMM_WORLD_RANK": "5",
            "OMPI_COMM_WORLD_SIZE": "8",
            "OMPI_COMM_WORLD_LOCAL_SIZE": "4",
        }
    )

    assert env.local_rank == 1
    assert env.node_id == 1
    assert env.sources["local_rank"] == "derived"


def test_horovod_does_not_derive_a_missing_local_rank() -> None:
    env = parse_launcher_env(
        {"OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_SIZE": "8"}
        | {"OMPI_COMM_WORLD_LOCAL_SIZE": "4"}
    )

    assert env.local_rank == 0


@pytest.mark.parametrize(
    "name", ["OMPI_COMM_WORLD_RANK", "WORLD_SIZE", "HOROVOD_LOCAL_RANK", "RANK"]
)
@pytest.mark.parametrize(
    "raw", ["abc", "1.5", "", "-1"], ids=["word", "float", "empty", "neg"]
)
def test_a_malformed_number_is_an_error_naming_the_variable(
    name: str, raw: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{name}="):
        parse_launcher_env({name: raw})


def test_a_malformed_lower_priority_variable_is_not_read() -> None:
    env = parse_launcher_env({"HOROVOD_RANK": "0", "RANK": "garbage"})

    assert env.rank == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RANK": "4", "WORLD_SIZE": "4"}, r"rank=4 \(from RANK\) must be < size=4"),
        ({"WORLD_SIZE": "0"}, r"size=0 \(from WORLD_SIZE\) must be >= 1"),
        (
            {"LOCAL_RANK": "2", "LOCAL_WORLD_SIZE": "2", "WORLD_SIZE": "4"},
            r"local_rank=2 \(from LOCAL_RANK\) must be < local_size=2",
        ),
        (
            {"LOCAL_WORLD_SIZE": "8", "WORLD_SIZE": "4"},
            r"local_size=8 \(from LOCAL_WORLD_SIZE\) must be <= size=4",
        ),
    ],
    ids=["rank-too-big", "zero-size", "local-rank-too-big", "local-size-too-big"],
)
def test_inconsistent_numbers_are_an_error_naming_the_variables(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_launcher_env(env)


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=64),
    data=st.data(),
    launcher=st.sampled_from(["HOROVOD_", "OMPI_COMM_WORLD_", ""]),
)
def test_a_consistent_launcher_environment_round_trips(
    size: int, data: st.DataObject, launcher: str
) -> None:
    local_size = data.draw(st.integers(min_value=1, max_value=size))
    rank = data.draw(st.integers(min_value=0, max_value=size - 1))
    local_rank = data.draw(st.integers(min_value=0, max_value=local_size - 1))
    if launcher:
        names = [f"{launcher}{n}" for n in ("RANK", "SIZE", "LOCAL_RANK", "LOCAL_SIZE")]
    else:
        names = ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"]
    values = [rank, size, local_rank, local_size]

    env = parse_launcher_env({n: str(v) for n, v in zip(names, values, strict=True)})

    assert numbers(env) == tuple(values)
    assert list(env.sources.values()) == names
