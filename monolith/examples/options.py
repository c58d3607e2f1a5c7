"""Task options: defaults, unknown-key errors and lenient coercion.

Options reach a task from code (typed values) or from ``--set k=v`` (strings),
so every coercer accepts both: ``hidden="400,400,400"`` and
``hidden=(400, 400, 400)`` mean the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from monolith.domain.embedding.config import OptimizerConfig, OptimizerKind, TableConfig
from monolith.domain.errors import ConfigError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.model_spec import DenseOptimizerSpec, Pooling, SlotSpec

logger = logging.getLogger(__name__)

Coercer = Callable[[str, object], Any]


def as_int(key: str, value: object) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        return int(str(value)) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"option {key}={value!r} must be an integer") from exc


def as_float(key: str, value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"option {key}={value!r} must be a number") from exc


def as_ints(key: str, value: object) -> tuple[int, ...]:
    if isinstance(value, str):
        parts: list[object] = [p for p in value.replace(" ", "").split(",") if p]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        parts = [value]
    return tuple(as_int(key, p) for p in parts)


def as_str(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"option {key}={value!r} must be a string")
    return value


def as_bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "true",
        "1",
        "yes",
        "false",
        "0",
        "no",
    ):
        return value.lower() in ("true", "1", "yes")
    raise ConfigError(f"option {key}={value!r} must be true or false")


def as_pooling(key: str, value: object) -> str | dict[str, str]:
    """``sum``/``mean`` for every slot, or ``{slot: pooling}`` / ``"a:mean,b:sum"``."""
    if isinstance(value, Mapping):
        return {str(k): _pooling(key, v) for k, v in value.items()}
    if isinstance(value, str) and ":" in value:
        pairs = [item.split(":", 1) for item in value.split(",") if item]
        return {k.strip(): _pooling(key, v.strip()) for k, v in pairs}
    return _pooling(key, value)


def _pooling(key: str, value: object) -> str:
    if value not in ("sum", "mean"):
        raise ConfigError(f"option {key}={value!r}: pooling must be 'sum' or 'mean'")
    return str(value)


def pooling_of(pooling: str | dict[str, str], slot: str) -> Pooling:
    """The pooling of ``slot`` under an ``as_pooling`` value (default ``sum``)."""
    chosen = pooling.get(slot, "sum") if isinstance(pooling, dict) else pooling
    return "mean" if chosen == "mean" else "sum"


def parse_options(
    task: str,
    given: Mapping[str, object],
    schema: Mapping[str, tuple[Coercer, object]],
) -> dict[str, Any]:
    """Defaults of ``schema`` overridden by ``given``, each value coerced.

    Raises:
        ConfigError: an option the task does not know (the message lists the
            known ones) or a value of the wrong type.
    """
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise ConfigError(
            f"task {task} has no option(s) {', '.join(unknown)}; known options: "
            f"{', '.join(sorted(schema))}"
        )
    values: dict[str, Any] = {}
    for key, (coerce, default) in schema.items():
        values[key] = coerce(key, given[key]) if key in given else default
    return values


def table(
    name: str,
    dim: int,
    optimizer: str,
    learning_rate: float,
    has_bias: bool = False,
) -> TableConfig:
    """A table with the given sparse optimizer (other settings default)."""
    if optimizer not in ("sgd", "adagrad", "adam", "ftrl"):
        raise ConfigError(
            f"table optimizer {optimizer!r} is unknown; use sgd, adagrad, adam or ftrl"
        )
    kind: OptimizerKind = optimizer  # type: ignore[assignment]
    return TableConfig(
        name=name,
        dim=dim,
        optimizer=OptimizerConfig(kind=kind, learning_rate=learning_rate),
        has_bias=has_bias,
    )


SHARED_TABLE = "fids"
"""The table of every slot when a task shares one table across its slots."""


def pooled_tables(
    features: FeatureSpec,
    o: Mapping[str, Any],
    has_bias: bool = False,
    shared: bool = False,
) -> tuple[tuple[TableConfig, ...], tuple[SlotSpec, ...]]:
    """The tables and the slots pooled into them.

    One table per sparse slot, named after it; with ``shared`` one table
    named :data:`SHARED_TABLE` for every slot. A shared table stays
    collisionless when fids carry their slot (v2 fids, ``slot << 48 |
    signature``, as datagen writes them): fids of different slots never meet.
    ``o`` is parsed options with ``dim``, ``table_optimizer``,
    ``table_learning_rate`` and ``pooling`` (an :func:`as_pooling` value).
    """
    names = [SHARED_TABLE] if shared else list(features.sparse)
    tables = tuple(
        table(n, o["dim"], o["table_optimizer"], o["table_learning_rate"], has_bias)
        for n in names
    )
    slots = tuple(
        SlotSpec(s, SHARED_TABLE if shared else s, pooling=pooling_of(o["pooling"], s))
        for s in features.sparse
    )
    return tables, slots


def dense_optimizer(o: Mapping[str, Any]) -> DenseOptimizerSpec:
    """The dense optimizer named by parsed options.

    ``o`` has ``dense_optimizer``, ``learning_rate`` and ``clip_norm``.
    """
    return DenseOptimizerSpec(o["dense_optimizer"], o["learning_rate"], o["clip_norm"])


COMMON_SCHEMA: dict[str, tuple[Coercer, object]] = {
    "dim": (as_int, 16),
    "activation": (as_str, "relu"),
    "table_optimizer": (as_str, "adagrad"),
    "table_learning_rate": (as_float, 0.05),
    "dense_optimizer": (as_str, "adagrad"),
    "learning_rate": (as_float, 0.05),
    "clip_norm": (as_float, 100.0),
    "seed": (as_int, 0),
}
"""Options every zoo task accepts."""
