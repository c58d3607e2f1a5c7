"""Flatten nested structures to a list of arrays and pack them back (decision 12).

A structure is built from dicts, lists, tuples (named tuples included) and
attrs instances (such as :class:`~monolith.domain.batch.Batch`). Its "tensor"
leaves are numpy arrays and numpy scalars; those are what :func:`flatten`
returns, in a deterministic order (dict insertion order, sequence order, attrs
field order). Every other leaf, ``str``, ``bytes``, ``None``, ``int``,
``float`` or ``bool``, stays in the :class:`Structure` and comes back unchanged
from :func:`pack`. Nothing here mutates the caller's containers: packing
always builds new ones.

Each occurrence of an array is its own slot, even when the same object
appears twice.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from monolith.domain.errors import UsageError

logger = logging.getLogger(__name__)

CONSTANT_TYPES = (str, bytes, type(None), int, float, bool)
TENSOR_TYPES = (np.ndarray, np.generic)


@attrs.frozen
class _Slot:
    index: int


@attrs.frozen
class _Constant:
    value: Any


@attrs.frozen
class _Mapping:
    template: dict[Any, Any] | None  # a private copy of a dict subclass
    keys: tuple[Any, ...]
    children: tuple[_Node, ...]


@attrs.frozen
class _Sequence:
    kind: type
    children: tuple[_Node, ...]


@attrs.frozen
class _Attrs:
    template: Any
    names: tuple[str, ...]
    children: tuple[_Node, ...]


_Node = _Slot | _Constant | _Mapping | _Sequence | _Attrs


@attrs.frozen
class Structure:
    """The shape of a nested structure with its tensor leaves taken out.

    Attributes:
        num_tensors: How many arrays :func:`pack` expects.
    """

    root: _Node
    num_tensors: int


def flatten(nested: Any) -> tuple[list[Any], Structure]:
    """Take the arrays out of ``nested``.

    Args:
        nested: A structure of dicts, lists, tuples and attrs instances.

    Returns:
        The arrays in order, and the :class:`Structure` to rebuild it.

    Raises:
        UsageError: a leaf is of an unsupported type; the message gives its
            path, e.g. ``[0]['b'].values``.
    """
    tensors: list[Any] = []
    root = _flatten(nested, tensors, "")
    return tensors, Structure(root=root, num_tensors=len(tensors))


def pack(structure: Structure, tensors: Sequence[Any]) -> Any:
    """Rebuild the structure with ``tensors`` at the array positions.

    Args:
        structure: From :func:`flatten`.
        tensors: One value per slot, in the order :func:`flatten` returned.

    Returns:
        A new structure; its containers are new objects, its constant leaves
        the original objects.

    Raises:
        UsageError: the number of tensors differs from the number of slots.
    """
    if len(tensors) != structure.num_tensors:
        raise UsageError(
            f"cannot pack {len(tensors)} tensors into a structure with "
            f"{structure.num_tensors} slots"
        )
    return _pack(structure.root, tensors)


def map_tensors(fn: Callable[[Any], Any], nested: Any) -> Any:
    """A copy of ``nested`` with ``fn`` applied to every array leaf."""
    tensors, structure = flatten(nested)
    return pack(structure, [fn(t) for t in tensors])


def _flatten(value: Any, tensors: list[Any], path: str) -> _Node:
    if isinstance(value, TENSOR_TYPES):
        tensors.append(value)
        return _Slot(len(tensors) - 1)
    if isinstance(value, CONSTANT_TYPES):
        return _Constant(value)
    if isinstance(value, dict):
        keys = tuple(value)
        children = tuple(_flatten(value[k], tensors, f"{path}[{k!r}]") for k in keys)
        template = None if type(value) is dict else copy.copy(value)
        return _Mapping(template=template, keys=keys, children=children)
    if isinstance(value, list | tuple):
        kind = type(value)
        if kind not in (list, tuple) and not hasattr(value, "_fields"):
            raise UsageError(
                f"nested structure has an unsupported sequence type at "
                f"{path or 'the root'}: {kind.__name__}; expected list, tuple or "
                "a named tuple"
            )
        children = tuple(
            _flatten(item, tensors, f"{path}[{i}]") for i, item in enumerate(value)
        )
        return _Sequence(kind=kind, children=children)
    if attrs.has(type(value)):
        names = tuple(f.name for f in attrs.fields(type(value)) if f.init)
        children = tuple(
            _flatten(getattr(value, n), tensors, f"{path}.{n}") for n in names
        )
        return _Attrs(template=value, names=names, children=children)
    raise UsageError(
        f"nested structure has an unsupported leaf at {path or 'the root'}: "
        f"{type(value).__name__}; expected a numpy array, a dict, list, tuple or "
        "attrs instance, or one of str, bytes, None, int, float, bool"
    )


def _pack(node: _Node, tensors: Sequence[Any]) -> Any:
    if isinstance(node, _Slot):
        return tensors[node.index]
    if isinstance(node, _Constant):
        return node.value
    if isinstance(node, _Mapping):
        values = [_pack(child, tensors) for child in node.children]
        if node.template is None:
            return dict(zip(node.keys, values, strict=True))
        rebuilt = copy.copy(node.template)
        rebuilt.clear()
        rebuilt.update(zip(node.keys, values, strict=True))
        return rebuilt
    if isinstance(node, _Sequence):
        items = [_pack(child, tensors) for child in node.children]
        if node.kind is list:
            return items
        if node.kind is tuple:
            return tuple(items)
        return node.kind(*items)
    changes = {
        name.lstrip("_"): _pack(child, tensors)
        for name, child in zip(node.names, node.children, strict=True)
    }
    return attrs.evolve(node.template, **changes)
