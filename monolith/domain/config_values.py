"""Building blocks of the config merge: the unset sentinel, layers and value types.

``UNSET`` marks a field nobody set (decision 4): "not set" is never inferred
from a value being equal to its default. A :class:`Source` says which layer a
value came from, for error messages and ``monolith config show``. A
:class:`ValueType` knows how to read a field from text (env, ``--set``), from
TOML values and from Python values, and how to describe itself in an error.
"""

from __future__ import annotations

import enum
import math
import types
import typing
from typing import Any, Final, Literal

import attrs

from monolith.domain.errors import ConfigError


class Unset(enum.Enum):
    """The type of :data:`UNSET`; a one-member enum so mypy can narrow on it."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = Unset.UNSET
"""The value of a config field that no layer set."""


class Layer(enum.IntEnum):
    """Config layers, lowest precedence first."""

    DEFAULT = 0
    FILE = 1
    ENV = 2
    CLI = 3
    CODE = 4


@attrs.frozen
class Source:
    """Where one value came from: its layer and a human-readable detail.

    Attributes:
        layer: The precedence layer.
        detail: What a user reads, e.g. ``file /x/run.toml``,
            ``env MONOLITH_NUM_PS``, ``cli --set`` or ``code``.
    """

    layer: Layer
    detail: str

    def __str__(self) -> str:
        return self.detail


DEFAULT_SOURCE: Final = Source(Layer.DEFAULT, "default")
CODE_SOURCE: Final = Source(Layer.CODE, "code")

Kind = Literal["int", "float", "str", "bool", "strs", "choice"]

_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS = frozenset({"false", "0", "no", "off"})


@attrs.frozen
class ValueType:
    """The type of one config field.

    Attributes:
        kind: ``int``, ``float``, ``str``, ``bool``, ``strs`` (a tuple of
            strings) or ``choice`` (one of ``choices``).
        optional: Whether ``None`` is allowed. In text (env, ``--set``) an
            empty string means ``None``.
        choices: The allowed strings when ``kind`` is ``choice``.
        minimum: Smallest allowed number, inclusive.
        above: Numbers must be strictly greater than this.
    """

    kind: Kind
    optional: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    above: float | None = None

    @classmethod
    def from_hint(
        cls, hint: Any, *, minimum: float | None = None, above: float | None = None
    ) -> ValueType:
        """Build the type of a field from its resolved annotation.

        Supports ``int``, ``float``, ``str``, ``bool``, ``tuple[str, ...]``,
        ``Literal[...]`` of strings, and any of them ``| None``.

        Raises:
            TypeError: The annotation is none of those (a programming error).
        """
        optional = False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            optional = len(args) < len(typing.get_args(hint))
            if len(args) != 1:
                raise TypeError(f"unsupported config annotation {hint!r}")
            hint = args[0]
        if hint is bool:
            return cls("bool", optional)
        if hint is int:
            return cls("int", optional, minimum=minimum, above=above)
        if hint is float:
            return cls("float", optional, minimum=minimum, above=above)
        if hint is str:
            return cls("str", optional)
        if typing.get_origin(hint) is tuple and typing.get_args(hint) == (str, ...):
            return cls("strs", optional)
        if typing.get_origin(hint) is Literal:
            choices = typing.get_args(hint)
            if all(isinstance(c, str) for c in choices):
                return cls("choice", optional, choices=tuple(choices))
        raise TypeError(f"unsupported config annotation {hint!r}")

    def describe(self) -> str:
        """The expected type as an error message names it, e.g. ``int >= 0``."""
        if self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "strs":
            text = "list of str"
        elif self.kind == "bool":
            text = "bool (true/false)"
        else:
            text = self.kind
        if self.minimum is not None:
            text += f" >= {_number_text(self.minimum)}"
        if self.above is not None:
            text += f" > {_number_text(self.above)}"
        if self.optional:
            text += " or none"
        return text

    def parse_text(self, key: str, raw: str, source: Source) -> Any:
        """Read a value written as text (an env variable or ``--set``).

        Numbers use Python syntax, booleans accept true/false, 1/0, yes/no and
        on/off (any case), a list of strings is comma-separated (items are
        stripped, empty items dropped) and, for optional fields, an empty
        string means ``None``.

        Raises:
            ConfigError: ``raw`` is not of this type; names key, source and type.
        """
        text = raw.strip()
        if self.optional and text == "":
            return None
        value: Any
        if self.kind == "int":
            value = _try(int, text)
        elif self.kind == "float":
            value = _try(float, text)
        elif self.kind == "bool":
            value = _parse_bool(text)
        elif self.kind == "strs":
            value = tuple(item.strip() for item in raw.split(",") if item.strip())
        elif self.kind == "choice":
            value = text
        else:
            value = raw
        if value is UNSET:
            raise self.mismatch(key, raw, source)
        return self.check(key, value, source)

    def coerce(self, key: str, value: object, source: Source) -> Any:
        """Accept an already-typed value (TOML, code, click) or raise.

        ``int`` is accepted where ``float`` is expected and a list where a
        tuple of strings is expected; ``bool`` is never taken for a number
        and text is never parsed here.

        Raises:
            ConfigError: ``value`` has the wrong type or is out of range.
        """
        if value is None:
            if self.optional:
                return None
            raise self.mismatch(key, value, source)
        converted = self._convert(value)
        if converted is UNSET:
            raise self.mismatch(key, value, source)
        return self.check(key, converted, source)

    def _convert(self, value: object) -> Any:
        if self.kind == "bool":
            return value if isinstance(value, bool) else UNSET
        if isinstance(value, bool):
            return UNSET
        if self.kind == "int":
            return value if isinstance(value, int) else UNSET
        if self.kind == "float":
            return float(value) if isinstance(value, int | float) else UNSET
        if self.kind == "strs":
            if isinstance(value, list | tuple) and all(
                isinstance(item, str) for item in value
            ):
                return tuple(value)
            return UNSET
        return value if isinstance(value, str) else UNSET

    def check(self, key: str, value: Any, source: Source) -> Any:
        """Check range and choices of a value of the right Python type."""
        if value is None:
            return value
        if self.kind == "float" and not math.isfinite(value):
            raise self.mismatch(key, value, source)
        if self.kind == "choice" and value not in self.choices:
            raise self.mismatch(key, value, source)
        if self.minimum is not None and value < self.minimum:
            raise self.mismatch(key, value, source)
        if self.above is not None and value <= self.above:
            raise self.mismatch(key, value, source)
        return value

    def mismatch(self, key: str, value: object, source: Source) -> ConfigError:
        """The error for a value that is not of this type."""
        return ConfigError(
            f"config key {key!r} from {source}: expected {self.describe()}, "
            f"got {value!r}"
        )


def format_value(value: object) -> str:
    """Render a config value as text that :meth:`ValueType.parse_text` reads back.

    ``None`` becomes the empty string, booleans ``true``/``false``, tuples a
    comma-separated list and floats their shortest round-tripping ``repr``.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _try(parse: type[int] | type[float], text: str) -> Any:
    try:
        return parse(text)
    except ValueError:
        return UNSET


def _parse_bool(text: str) -> bool | Unset:
    lowered = text.lower()
    if lowered in _TRUE_WORDS:
        return True
    if lowered in _FALSE_WORDS:
        return False
    return UNSET


def _number_text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
