"""Rank, size and allreduce backend from a launcher's environment (decision 7).

The backend is BytePS when ``MONOLITH_WITH_BYTEPS`` is a non-zero integer and
Horovod otherwise. Each of rank, size, local_rank and local_size comes from
the first of these that sets it:

1. BytePS, only when it is the backend: ``DMLC_WORKER_ID``, ``DMLC_NUM_WORKER``,
   ``BYTEPS_LOCAL_RANK``, ``BYTEPS_LOCAL_SIZE``;
2. Horovod: ``HOROVOD_RANK``, ``HOROVOD_SIZE``, ``HOROVOD_LOCAL_RANK``,
   ``HOROVOD_LOCAL_SIZE``;
3. OpenMPI: ``OMPI_COMM_WORLD_RANK``, ``_SIZE``, ``_LOCAL_RANK``, ``_LOCAL_SIZE``;
4. torchrun: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``;
5. the defaults 0, 1, 0 and 1.

Under BytePS a local_rank that no variable sets is derived as
``rank % local_size``, as BytePS itself does.

The environment is an argument, never read here. A value that is not an
integer, or numbers that contradict each other, raise
:class:`~monolith.domain.errors.ConfigError` naming the variables.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping

import attrs

from monolith.domain.errors import ConfigError

logger = logging.getLogger(__name__)

BYTEPS_SWITCH = "MONOLITH_WITH_BYTEPS"
DEFAULT_SOURCE = "default"
DERIVED_SOURCE = "derived"

FIELDS = ("rank", "size", "local_rank", "local_size")
_BYTEPS_VARS = (
    "DMLC_WORKER_ID",
    "DMLC_NUM_WORKER",
    "BYTEPS_LOCAL_RANK",
    "BYTEPS_LOCAL_SIZE",
)
_HOROVOD_VARS = (
    "HOROVOD_RANK",
    "HOROVOD_SIZE",
    "HOROVOD_LOCAL_RANK",
    "HOROVOD_LOCAL_SIZE",
)
_OMPI_VARS = (
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_SIZE",
)
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
_DEFAULTS = {"rank": 0, "size": 1, "local_rank": 0, "local_size": 1}


class SyncBackend(enum.Enum):
    """The allreduce library a synchronous job uses."""

    HOROVOD = "horovod"
    BYTEPS = "byteps"


@attrs.frozen
class LauncherEnv:
    """Where this process sits in a synchronous job.

    Attributes:
        backend: The allreduce library to use.
        rank: This process's global rank, ``0 <= rank < size``.
        size: The number of processes in the job.
        local_rank: This process's rank on its machine.
        local_size: The number of processes on this machine.
        sources: For each field, the variable it came from, or ``"default"``
            or ``"derived"``.
    """

    backend: SyncBackend
    rank: int
    size: int
    local_rank: int
    local_size: int
    sources: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def node_id(self) -> int:
        """The machine's number when every machine runs ``local_size`` ranks."""
        return self.rank // self.local_size

    @property
    def launched(self) -> bool:
        """Whether any launcher variable was present."""
        return any(
            s not in (DEFAULT_SOURCE, DERIVED_SOURCE) for s in self.sources.values()
        )

    @property
    def is_chief(self) -> bool:
        """Rank 0 is the chief of a synchronous job."""
        return self.rank == 0


def parse_backend(env: Mapping[str, str]) -> SyncBackend:
    """The allreduce backend selected by ``MONOLITH_WITH_BYTEPS``.

    Args:
        env: An environment mapping such as ``os.environ``.

    Raises:
        ConfigError: the variable is set but is not an integer.
    """
    raw = env.get(BYTEPS_SWITCH)
    if raw is None:
        return SyncBackend.HOROVOD
    try:
        enabled = int(raw.strip())
    except ValueError as exc:
        raise ConfigError(
            f"{BYTEPS_SWITCH}={raw!r} is not an integer: expected 0 for Horovod "
            "or a non-zero integer for BytePS"
        ) from exc
    return SyncBackend.BYTEPS if enabled else SyncBackend.HOROVOD


def parse_launcher_env(env: Mapping[str, str]) -> LauncherEnv:
    """Backend, rank, size, local_rank and local_size from ``env``.

    Args:
        env: An environment mapping such as ``os.environ``.

    Returns:
        The values, each from the first launcher variable that sets it (see
        the module docstring), else the default.

    Raises:
        ConfigError: a variable is not a non-negative integer, or the values
            are inconsistent (``rank >= size``, ``local_rank >= local_size``,
            ``local_size > size``, a size of 0); the message names the
            variables.
    """
    backend = parse_backend(env)
    groups = [_HOROVOD_VARS, _OMPI_VARS, _TORCHRUN_VARS]
    if backend is SyncBackend.BYTEPS:
        groups.insert(0, _BYTEPS_VARS)

    values: dict[str, int] = {}
    sources: dict[str, str] = {}
    for position, field in enumerate(FIELDS):
        for group in groups:
            name = group[position]
            if name in env:
                values[field] = _parse_count(name, env[name])
                sources[field] = name
                break
    for field, default in _DEFAULTS.items():
        if field not in values:
            values[field] = default
            sources[field] = DEFAULT_SOURCE
    if backend is SyncBackend.BYTEPS and sources["local_rank"] == DEFAULT_SOURCE:
        values["local_rank"] = values["rank"] % max(values["local_size"], 1)
        sources["local_rank"] = DERIVED_SOURCE

    _check_consistent(values, sources)
    return LauncherEnv(backend=backend, sources=sources, **values)


def _parse_count(name: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise ConfigError(
            f"{name}={raw!r} is not an integer: expected a non-negative whole number"
        ) from exc
    if value < 0:
        raise ConfigError(f"{name}={raw!r} is negative: expected a value >= 0")
    return value


def _check_consistent(values: Mapping[str, int], sources: Mapping[str, str]) -> None:
    def where(field: str) -> str:
        return f"{field}={values[field]} (from {sources[field]})"

    for size_field in ("size", "local_size"):
        if values[size_field] < 1:
            raise ConfigError(f"{where(size_field)} must be >= 1")
    if values["rank"] >= values["size"]:
        raise ConfigError(f"{where('rank')} must be < {where('size')}")
    if values["local_rank"] >= values["local_size"]:
        raise ConfigError(f"{where('local_rank')} must be < {where('local_size')}")
    if values["local_size"] > values["size"]:
        raise ConfigError(f"{where('local_size')} must be <= {where('size')}")
