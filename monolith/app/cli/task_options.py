"""The ``--task-option KEY=VALUE`` flag shared by ``train`` and ``worker``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from monolith.domain.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


def task_option_flag(func: F) -> F:
    """Add a repeatable ``--task-option`` flag, passed as ``task_option_items``."""
    return click.option(
        "--task-option",
        "task_option_items",
        multiple=True,
        metavar="KEY=VALUE",
        help="An option of the task, e.g. hidden=64,32 (repeatable).",
    )(func)


def parse_task_options(items: tuple[str, ...]) -> dict[str, str]:
    """``("hidden=64,32", "dim=8")`` → ``{"hidden": "64,32", "dim": "8"}``.

    Raises:
        UsageError: An item has no ``=`` or an empty key.
    """
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--task-option {item!r} is not KEY=VALUE (e.g. hidden=64,32)"
            )
        options[key.strip()] = value
    return options
