"""The error hierarchy: one root, an exit code on every class, builtin mixins."""

from __future__ import annotations

import inspect
import pickle
import re

import pytest

from monolith.domain import errors
from monolith.domain.errors import MonolithError

pytestmark = pytest.mark.unit

ERROR_CLASSES = sorted(
    (
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == errors.__name__
    ),
    key=lambda cls: cls.__name__,
)
ids = [cls.__name__ for cls in ERROR_CLASSES]


def docstring_tree() -> dict[str, int | None]:
    """Class name -> the exit code drawn next to it in the module docstring."""
    tree: dict[str, int | None] = {}
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^[\s│├└─]*(\w+Error)\b.*?(?:exit (\d+))?\s*$", line)
        if match:
            tree[match.group(1)] = int(match.group(2)) if match.group(2) else None
    return tree


def test_the_module_defines_a_hierarchy_worth_testing() -> None:
    assert len(ERROR_CLASSES) >= 20


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=ids)
def test_every_error_derives_from_the_one_root(cls: type[BaseException]) -> None:
    assert issubclass(cls, MonolithError)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=ids)
def test_every_error_carries_an_exit_code_a_shell_can_report(
    cls: type[MonolithError],
) -> None:
    assert isinstance(cls.exit_code, int)
    assert 1 <= cls.exit_code <= 125


def test_only_the_root_exits_with_the_generic_code_one() -> None:
    generic = [cls.__name__ for cls in ERROR_CLASSES if cls.exit_code == 1]

    assert generic == ["MonolithError"]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=ids)
def test_the_docstring_tree_draws_every_class_with_its_exit_code(
    cls: type[MonolithError],
) -> None:
    tree = docstring_tree()

    assert cls.__name__ in tree
    drawn = tree[cls.__name__]
    if drawn is None:
        parent = next(b for b in cls.__mro__[1:] if issubclass(b, MonolithError))
        assert cls.exit_code == parent.exit_code
    else:
        assert cls.exit_code == drawn


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("ConfigError", ValueError),
        ("UsageError", ValueError),
        ("TaskNotFoundError", LookupError),
        ("StorageError", OSError),
        ("NotFoundError", FileNotFoundError),
        ("AlreadyExistsError", FileExistsError),
        ("DiscoveryTimeoutError", TimeoutError),
        ("RestoreSyncError", TimeoutError),
    ],
)
def test_errors_callers_already_catch_as_builtins_inherit_them(
    name: str, builtin: type[BaseException]
) -> None:
    cls = getattr(errors, name)

    with pytest.raises(builtin):
        raise cls("boom")


def test_a_subclass_is_caught_by_its_family() -> None:
    with pytest.raises(errors.CheckpointError):
        raise errors.NoCheckpointError("none in /m")


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=ids)
def test_the_message_is_exactly_what_was_raised(cls: type[MonolithError]) -> None:
    error = cls("model_dir '/m' holds no checkpoint")

    assert str(error) == "model_dir '/m' holds no checkpoint"


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=ids)
def test_errors_survive_pickling_between_processes(cls: type[MonolithError]) -> None:
    error = cls("lost shard 3")

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is cls
    assert str(copy) == "lost shard 3"
    assert copy.exit_code == cls.exit_code
