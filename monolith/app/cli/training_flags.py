"""The training flags shared by ``monolith train`` and ``monolith worker``.

``--task``, ``--backend``, ``--data``, ``--model-dir``, ``--steps``,
``--batch-size``, ``--save-steps`` and ``--max-to-keep``, and their mapping
onto run-config fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def training_options(model_dir_help: str) -> Callable[[F], F]:
    """Add the training flags, in help order, with ``model_dir_help`` for --model-dir.

    The command receives ``task``, ``backend``, ``data``, ``model_dir``,
    ``steps``, ``batch_size``, ``save_steps`` and ``max_to_keep`` (None when
    not given); :func:`training_flags` maps them onto config fields.
    """
    options = [
        click.option("--task", help="Dotted task name, e.g. examples.ctr.DeepFM."),
        click.option(
            "--backend", type=click.Choice(["torch", "tf"]), help="Dense tower."
        ),
        click.option("--data", help="Training input: paths or globs, comma-separated."),
        click.option("--model-dir", help=model_dir_help),
        click.option("--steps", type=int, help="Train until this global step."),
        click.option("--batch-size", type=int, help="Examples per batch."),
        click.option("--save-steps", type=int, help="Save a checkpoint every K steps."),
        click.option("--max-to-keep", type=int, help="Unprotected checkpoints kept."),
    ]

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def training_flags(
    *,
    task: str | None,
    backend: str | None,
    data: str | None,
    model_dir: str | None,
    steps: int | None,
    batch_size: int | None,
    save_steps: int | None,
    max_to_keep: int | None,
) -> dict[str, object]:
    """The training flags by run-config field name (None = not given)."""
    return {
        "task": task,
        "backend": backend,
        "data": data,
        "model_dir": model_dir,
        "steps": steps,
        "batch_size": batch_size,
        "save_checkpoints_steps": save_steps,
        "max_to_keep": max_to_keep,
    }
