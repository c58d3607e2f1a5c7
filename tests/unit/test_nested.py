"""Flattening and packing nested structures (decision 12, BEHAVIOUR.md §12)."""

from __future__ import annotations

import collections
import copy
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.errors import UsageError
from monolith.domain.nested import flatten, map_tensors, pack

pytestmark = pytest.mark.unit


class Pair(NamedTuple):
    left: Any
    right: Any


def test_arrays_are_taken_out_in_order_and_constants_stay() -> None:
    """BEHAVIOUR.md §12.4 ``test_enqueue_dicts_with_queue_return``, numpy leaves."""
    a, b = np.ones(2), np.array([[1.0]])
    nested = ([{"a": a, "b": "abc", "c": None, "d": None}], {"a": 0.5, "b": b})

    tensors, structure = flatten(nested)
    rebuilt = pack(structure, tensors)

    assert [t is x for t, x in zip(tensors, [a, b], strict=True)] == [True, True]
    assert rebuilt[0][0]["b"] == "abc"
    assert rebuilt[0][0]["c"] is None
    assert rebuilt[1]["a"] == 0.5
    assert rebuilt[1]["b"] is b


def test_replacing_the_arrays_gives_the_same_shape_with_new_values() -> None:
    """BEHAVIOUR.md §12.4 ``nested_tensors_test.py``: ones replaced by zeros."""
    ones = np.ones(3)
    nested = {"a": ones, "b": (ones, ones)}

    tensors, structure = flatten(nested)
    rebuilt = pack(structure, [0] * len(tensors))

    assert rebuilt == {"a": 0, "b": (0, 0)}


def test_a_structure_without_arrays_comes_back_equal() -> None:
    nested = {"a": {"b": 2}, "c": [True, 1.5, b"x"]}

    tensors, structure = flatten(nested)

    assert tensors == []
    assert pack(structure, []) == nested


def test_neither_flatten_nor_pack_mutates_the_callers_structures() -> None:
    nested = {"x": [np.zeros(1), {"y": np.ones(1), "s": "keep"}], "t": (1, None)}
    snapshot = copy.deepcopy(nested)

    tensors, structure = flatten(nested)
    rebuilt = pack(structure, [t + 10 for t in tensors])

    assert nested["x"][1]["s"] == "keep"
    assert set(nested) == set(snapshot)
    assert nested["x"][0].tolist() == [0.0]
    assert nested["x"][1]["y"].tolist() == [1.0]
    assert rebuilt is not nested
    assert rebuilt["x"] is not nested["x"]
    assert rebuilt["x"][1] is not nested["x"][1]
    assert rebuilt["x"][0].tolist() == [10.0]


def test_later_changes_to_the_input_do_not_change_the_structure() -> None:
    nested = {"a": np.zeros(1), "b": [1, 2]}
    _, structure = flatten(nested)

    nested["b"].append(3)
    nested["c"] = "new"

    assert pack(structure, ["A"]) == {"a": "A", "b": [1, 2]}


def test_tuples_named_tuples_and_lists_keep_their_types() -> None:
    nested = [Pair(np.zeros(1), (np.ones(1),)), []]

    tensors, structure = flatten(nested)
    rebuilt = pack(structure, ["L", "R"])

    assert rebuilt == [Pair("L", ("R",)), []]
    assert type(rebuilt[0]) is Pair


def test_dict_subclasses_are_rebuilt_as_their_own_type() -> None:
    nested = collections.OrderedDict([("b", np.zeros(1)), ("a", 1)])
    counts: collections.defaultdict[str, Any] = collections.defaultdict(int)
    counts["x"] = np.zeros(1)

    rebuilt = pack(flatten(nested)[1], ["B"])
    rebuilt_counts = pack(flatten(counts)[1], ["X"])

    assert type(rebuilt) is collections.OrderedDict
    assert list(rebuilt.items()) == [("b", "B"), ("a", 1)]
    assert rebuilt_counts["x"] == "X"
    assert rebuilt_counts["missing"] == 0
    assert "missing" not in counts


def test_the_same_array_twice_occupies_two_slots() -> None:
    shared = np.zeros(2)

    tensors, structure = flatten([shared, shared])

    assert structure.num_tensors == 2
    assert pack(structure, [1, 2]) == [1, 2]


def test_a_batch_flattens_to_its_arrays_and_packs_back() -> None:
    batch = Batch(
        sparse={"user": RaggedFids.from_lists([[1, 2], [3]])},
        dense=np.zeros((2, 3), dtype=np.float32),
        label=np.ones(2, dtype=np.float32),
    )

    tensors, structure = flatten(batch)
    rebuilt = pack(structure, [np.copy(t) for t in tensors])

    assert len(tensors) == 4
    assert isinstance(rebuilt, Batch)
    assert rebuilt.sparse["user"].row(0).tolist() == [1, 2]
    assert rebuilt.label.tolist() == [1.0, 1.0]


def test_numpy_scalars_are_tensors() -> None:
    tensors, _ = flatten({"loss": np.float32(0.5), "step": 3})

    assert tensors == [np.float32(0.5)]


def test_map_tensors_applies_to_every_array_only() -> None:
    result = map_tensors(lambda t: t * 2, {"a": np.array([1]), "b": [np.array([2]), 3]})

    assert result["a"].tolist() == [2]
    assert result["b"][0].tolist() == [4]
    assert result["b"][1] == 3


def test_packing_the_wrong_number_of_tensors_is_an_error() -> None:
    _, structure = flatten([np.zeros(1), np.zeros(1)])

    with pytest.raises(
        UsageError, match="cannot pack 1 tensors into a structure with 2"
    ):
        pack(structure, [np.zeros(1)])


@pytest.mark.parametrize(
    ("nested", "path"),
    [({"a": [1, object()]}, r"\['a'\]\[1\]: object"), ({1, 2}, "the root: set")],
    ids=["object-leaf", "set-root"],
)
def test_an_unsupported_leaf_is_an_error_giving_its_path(
    nested: Any, path: str
) -> None:
    with pytest.raises(UsageError, match=path):
        flatten(nested)


def test_a_list_subclass_is_rejected() -> None:
    class MyList(list[int]):
        pass

    with pytest.raises(
        UsageError, match="unsupported sequence type at the root: MyList"
    ):
        flatten(MyList([1]))


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.integers(min_value=0, max_value=3).map(lambda n: np.arange(n)),
)
structures = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=2), children, max_size=3),
    ),
    max_leaves=12,
)


def normalise(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return ("array", value.tolist())
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(normalise(v) for v in value)
    return value


@settings(max_examples=150, deadline=None)
@given(nested=structures)
def test_flatten_then_pack_round_trips_any_structure(nested: Any) -> None:
    tensors, structure = flatten(nested)

    rebuilt = pack(structure, tensors)

    assert normalise(rebuilt) == normalise(nested)
    assert structure.num_tensors == len(tensors)
