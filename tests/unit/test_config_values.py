"""Value types of config fields: reading text and Python values, and errors."""

from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.config_values import (
    CODE_SOURCE,
    UNSET,
    Layer,
    Source,
    ValueType,
    format_value,
)
from monolith.domain.errors import ConfigError

pytestmark = pytest.mark.unit

ENV = Source(Layer.ENV, "env MONOLITH_NUM_PS")


def test_unset_is_falsy_and_reprs_as_unset() -> None:
    assert not UNSET
    assert repr(UNSET) == "UNSET"


def test_layers_are_ordered_defaults_file_env_cli_code() -> None:
    ordered = sorted(Layer, key=int)

    assert ordered == [Layer.DEFAULT, Layer.FILE, Layer.ENV, Layer.CLI, Layer.CODE]


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (int, ValueType("int")),
        (float | None, ValueType("float", optional=True)),
        (bool, ValueType("bool")),
        (str | None, ValueType("str", optional=True)),
        (tuple[str, ...], ValueType("strs")),
        (Literal["a", "b"], ValueType("choice", choices=("a", "b"))),
        (Literal["a"] | None, ValueType("choice", optional=True, choices=("a",))),
    ],
    ids=["int", "optional-float", "bool", "optional-str", "strs", "choice", "opt-ch"],
)
def test_annotations_map_to_value_types(hint: object, expected: ValueType) -> None:
    assert ValueType.from_hint(hint) == expected


@pytest.mark.parametrize("hint", [list[int], dict[str, int], int | str, bytes])
def test_unsupported_annotations_are_a_programming_error(hint: object) -> None:
    with pytest.raises(TypeError, match="unsupported config annotation"):
        ValueType.from_hint(hint)


@pytest.mark.parametrize(
    ("value_type", "raw", "expected"),
    [
        (ValueType("int"), " 42 ", 42),
        (ValueType("float"), "2.5", 2.5),
        (ValueType("float"), "3", 3.0),
        (ValueType("bool"), "TRUE", True),
        (ValueType("bool"), "off", False),
        (ValueType("bool"), "1", True),
        (ValueType("strs"), "a:1, b:2,,", ("a:1", "b:2")),
        (ValueType("strs"), "", ()),
        (ValueType("str", optional=True), "", None),
        (ValueType("int", optional=True), "  ", None),
        (ValueType("choice", choices=("zk", "consul")), "consul", "consul"),
        (ValueType("str"), "a b", "a b"),
    ],
)
def test_text_parses_into_the_field_type(
    value_type: ValueType, raw: str, expected: object
) -> None:
    assert value_type.parse_text("key", raw, ENV) == expected


@pytest.mark.parametrize(
    ("value_type", "raw", "expected_type"),
    [
        (ValueType("int"), "two", "int"),
        (ValueType("int"), "2.0", "int"),
        (ValueType("int", minimum=0), "-1", "int >= 0"),
        (ValueType("float", above=0), "0", "float > 0"),
        (ValueType("float"), "nan", "float"),
        (ValueType("bool"), "maybe", "bool (true/false)"),
        (
            ValueType("choice", choices=("zk", "consul")),
            "etcd",
            "one of 'zk', 'consul'",
        ),
        (ValueType("int"), "", "int"),
    ],
)
def test_bad_text_names_key_source_and_expected_type(
    value_type: ValueType, raw: str, expected_type: str
) -> None:
    with pytest.raises(ConfigError) as info:
        value_type.parse_text("num_ps", raw, ENV)

    message = str(info.value)
    assert "'num_ps'" in message
    assert "env MONOLITH_NUM_PS" in message
    assert f"expected {expected_type}," in message


@pytest.mark.parametrize(
    ("value_type", "value", "expected"),
    [
        (ValueType("float"), 3, 3.0),
        (ValueType("strs"), ["a", "b"], ("a", "b")),
        (ValueType("int", optional=True), None, None),
        (ValueType("bool"), False, False),
    ],
)
def test_typed_values_are_accepted_and_normalised(
    value_type: ValueType, value: object, expected: object
) -> None:
    result = value_type.coerce("key", value, CODE_SOURCE)

    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value_type", "value"),
    [
        (ValueType("int"), True),
        (ValueType("int"), 2.0),
        (ValueType("int"), "2"),
        (ValueType("float"), False),
        (ValueType("bool"), 1),
        (ValueType("strs"), "a,b"),
        (ValueType("strs"), ["a", 1]),
        (ValueType("str"), None),
        (ValueType("choice", choices=("torch", "tf")), "jax"),
    ],
)
def test_mistyped_python_values_are_rejected(
    value_type: ValueType, value: object
) -> None:
    with pytest.raises(ConfigError, match=r"config key 'key' from code: expected"):
        value_type.coerce("key", value, CODE_SOURCE)


def test_optional_types_say_so_in_their_description() -> None:
    described = ValueType("int", optional=True, minimum=1).describe()

    assert described == "int >= 1 or none"


_SAFE_TEXT = st.text(
    alphabet=st.characters(categories=["L", "N"], include_characters="./:_-"),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.tuples(st.just(ValueType("int")), st.integers(-(10**12), 10**12)),
        st.tuples(
            st.just(ValueType("float")),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        st.tuples(st.just(ValueType("bool")), st.booleans()),
        st.tuples(st.just(ValueType("str", optional=True)), st.none() | _SAFE_TEXT),
        st.tuples(
            st.just(ValueType("strs")),
            st.lists(_SAFE_TEXT, max_size=4).map(tuple),
        ),
    )
)
def test_formatted_values_parse_back_to_themselves(
    case: tuple[ValueType, object],
) -> None:
    value_type, value = case

    text = format_value(value)

    assert value_type.parse_text("key", text, ENV) == value
