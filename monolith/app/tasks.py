"""Resolve a task name to a task instance (the importing half of decision 15)."""

from __future__ import annotations

import importlib
import logging

from monolith.domain.tasks import TASKS, Task, TaskRegistry

logger = logging.getLogger(__name__)

BUILTIN_TASK_MODULES = (
    "monolith.examples.ctr",
    "monolith.examples.movielens",
    "monolith.examples.sequence",
    "monolith.examples.stock",
)
"""The model zoo; imported first so error messages list its tasks."""


def load_builtin_tasks() -> None:
    """Import the model zoo modules, which register their tasks."""
    for module in BUILTIN_TASK_MODULES:
        importlib.import_module(module)


def resolve_task_class(name: str, registry: TaskRegistry = TASKS) -> type:
    """The task class registered as ``name`` (full or short dotted name).

    Raises:
        TaskNotFoundError: see :meth:`TaskRegistry.resolve`.
    """
    if registry is TASKS:
        load_builtin_tasks()
    return registry.resolve(name, importlib.import_module)


def resolve_task(name: str, registry: TaskRegistry = TASKS) -> Task:
    """A fresh instance of the task named ``name``."""
    cls = resolve_task_class(name, registry)
    logger.debug("task resolved name=%s class=%s", name, cls.__qualname__)
    task: Task = cls()
    return task
