"""The task registry: tasks are found by dotted name (BEHAVIOUR.md decision 15).

A task is a class whose instances turn a :class:`FeatureSpec` into a
:class:`ModelSpec`. ``@register_task`` stores a class under two keys: its full
dotted name ``<module>.<ClassName>`` and, for classes inside the ``monolith``
package, the same name without the leading ``monolith.`` (so
``monolith.examples.ctr.DeepFM`` is also ``examples.ctr.DeepFM``).

Resolution imports the module part of the name, which is I/O; the domain takes
the importer as an argument (the app passes :func:`importlib.import_module`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from monolith.domain.errors import ConfigError, TaskNotFoundError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.model_spec import ModelSpec

logger = logging.getLogger(__name__)

_PACKAGE_PREFIX = "monolith."


class Task(Protocol):
    """What a registered task class instantiates to."""

    def build_spec(self, features: FeatureSpec, **options: Any) -> ModelSpec:
        """The model for data with ``features``; ``options`` override defaults."""
        ...


TaskClass = TypeVar("TaskClass", bound=type)


def task_keys(cls: type) -> tuple[str, ...]:
    """The registry keys of ``cls``: full dotted name, then the short one."""
    full = f"{cls.__module__}.{cls.__qualname__}"
    if full.startswith(_PACKAGE_PREFIX):
        return (full, full[len(_PACKAGE_PREFIX) :])
    return (full,)


class TaskRegistry:
    """Task classes by dotted name. Registering a key twice is an error."""

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}

    def register(self, cls: TaskClass) -> TaskClass:
        """Store ``cls`` under :func:`task_keys`; returns it (decorator use).

        Raises:
            ConfigError: ``cls`` is not a class, has no ``build_spec``, or one
                of its keys is already registered.
        """
        if not isinstance(cls, type) or not callable(getattr(cls, "build_spec", None)):
            raise ConfigError(
                f"cannot register {cls!r} as a task: expected a class with a "
                "build_spec(features, **options) method"
            )
        keys = task_keys(cls)
        for key in keys:
            if key in self._classes:
                other = self._classes[key]
                raise ConfigError(
                    f"task key {key!r} is already registered by "
                    f"{other.__module__}.{other.__qualname__}; each key may be "
                    "registered once"
                )
        for key in keys:
            self._classes[key] = cls
        logger.debug("task registered keys=%s", ",".join(keys))
        return cls

    def known(self) -> list[str]:
        """Every registered full dotted name, sorted."""
        return sorted({task_keys(cls)[0] for cls in self._classes.values()})

    def get(self, name: str) -> type | None:
        """The class registered under ``name``, or None."""
        return self._classes.get(name)

    def resolve(self, name: str, import_module: Callable[[str], object]) -> type:
        """The class named ``name``, importing its module when needed.

        A short name (``examples.ctr.DeepFM``) is also tried under the
        ``monolith.`` package.

        Raises:
            TaskNotFoundError: ``name`` has no dot, its module cannot be
                imported, or the module registers no such class. Each message
                lists the known tasks.
        """
        if "." not in name:
            raise TaskNotFoundError(
                f"task name {name!r} has no dot: expected a dotted name "
                f"package.module.ClassName; {self._known_text()}"
            )
        found = self._classes.get(name)
        if found is not None:
            return found
        module, _, class_name = name.rpartition(".")
        candidates = [module]
        if not module.startswith(_PACKAGE_PREFIX) and module != "monolith":
            candidates.append(_PACKAGE_PREFIX + module)
        imported: list[str] = []
        for module_name in candidates:
            if not _try_import(module_name, import_module):
                continue
            imported.append(module_name)
            found = self._classes.get(f"{module_name}.{class_name}")
            if found is not None:
                return found
        if not imported:
            raise TaskNotFoundError(
                f"module {module!r} of task {name!r} cannot be imported; "
                f"{self._known_text()}"
            )
        raise TaskNotFoundError(
            f"task {name!r}: module {imported[0]!r} has no registered task "
            f"class {class_name!r}; {self._known_text()}"
        )

    def _known_text(self) -> str:
        known = self.known()
        return "known tasks: " + (", ".join(known) if known else "(none)")


def _try_import(module: str, import_module: Callable[[str], object]) -> bool:
    """Import ``module``; False only when ``module`` itself does not exist."""
    try:
        import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module or module.startswith(missing + "."):
            return False
        raise TaskNotFoundError(
            f"module {module!r} exists but imports the missing module "
            f"{missing!r}; install it or fix the import"
        ) from exc
    return True


TASKS = TaskRegistry()
"""The process-wide registry that :func:`register_task` fills."""


def register_task(cls: TaskClass) -> TaskClass:
    """Class decorator: register ``cls`` in :data:`TASKS` under both keys."""
    return TASKS.register(cls)
