from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

from monolith.domain.errors import ConfigError, TaskNotFoundError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.model_spec import ModelSpec
from monolith.domain.tasks import TaskRegistry, task_keys

pytestmark = pytest.mark.unit


def _task_class(module: str, name: str = "MyTask") -> type:
    def build_spec(self: object, features: FeatureSpec, **options: object) -> ModelSpec:
        raise NotImplementedError

    return type(name, (), {"__module__": module, "build_spec": build_spec})


@pytest.fixture
def fake_module() -> Iterator[types.ModuleType]:
    module = types.ModuleType("fakepkg_tasks_mod")
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_a_class_is_registered_under_its_full_dotted_name() -> None:
    registry = TaskRegistry()
    cls = _task_class("pkg.mod")

    registry.register(cls)

    assert registry.get("pkg.mod.MyTask") is cls
    assert registry.known() == ["pkg.mod.MyTask"]


def test_a_monolith_class_also_gets_the_short_name_without_the_package() -> None:
    cls = _task_class("monolith.examples.ctr", "DeepFM")

    keys = task_keys(cls)

    assert keys == ("monolith.examples.ctr.DeepFM", "examples.ctr.DeepFM")


def test_registering_a_key_twice_is_an_error_naming_the_key() -> None:
    registry = TaskRegistry()
    registry.register(_task_class("pkg.mod"))

    with pytest.raises(ConfigError, match="'pkg.mod.MyTask' is already registered"):
        registry.register(_task_class("pkg.mod"))


def test_registering_something_without_build_spec_is_an_error() -> None:
    registry = TaskRegistry()

    with pytest.raises(ConfigError, match="build_spec"):
        registry.register(type("NoBuild", (), {}))


def test_a_name_without_a_dot_is_rejected_and_the_known_tasks_listed() -> None:
    registry = TaskRegistry()
    registry.register(_task_class("pkg.mod"))

    with pytest.raises(TaskNotFoundError, match="no dot.*known tasks: pkg.mod.MyTask"):
        registry.resolve("MyTask", lambda name: None)


def test_an_unknown_module_has_its_own_error() -> None:
    registry = TaskRegistry()

    with pytest.raises(TaskNotFoundError, match="module 'missing.mod' .* cannot be"):
        registry.resolve("missing.mod.X", __import__)


def test_an_unknown_class_in_a_module_that_exists_has_its_own_error(
    fake_module: types.ModuleType,
) -> None:
    registry = TaskRegistry()

    with pytest.raises(TaskNotFoundError, match="has no registered task class 'Nope'"):
        registry.resolve(f"{fake_module.__name__}.Nope", __import__)


def test_resolving_imports_the_module_which_registers_the_task(
    fake_module: types.ModuleType,
) -> None:
    registry = TaskRegistry()
    imported: list[str] = []

    def import_module(name: str) -> object:
        imported.append(name)
        registry.register(_task_class(name, "Late"))
        return fake_module

    found = registry.resolve(f"{fake_module.__name__}.Late", import_module)

    assert imported == [fake_module.__name__]
    assert found is registry.get(f"{fake_module.__name__}.Late")


def test_a_module_importing_a_missing_dependency_is_reported_as_such() -> None:
    registry = TaskRegistry()

    def import_module(name: str) -> object:
        raise ModuleNotFoundError("No module named 'absent_dep'", name="absent_dep")

    with pytest.raises(
        TaskNotFoundError, match="imports the missing module 'absent_dep'"
    ):
        registry.resolve("pkg.mod.X", import_module)
