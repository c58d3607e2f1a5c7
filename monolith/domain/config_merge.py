"""The layered config merge (decision 4): defaults < file < env < CLI < code.

Each layer is read from values the caller already has (a parsed TOML
mapping, an environment mapping, ``--set`` strings, click option values,
Python values) into a :class:`ConfigLayer`; :func:`merge_layers` folds layers
in precedence order into a :class:`~monolith.domain.config.RunConfig` that
records, per field, the layer its value came from. Nothing here reads files
or ``os.environ``; :mod:`monolith.app.config_loader` does.

Unknown keys are errors in the file, CLI and code layers, except the file's
tables named in :data:`OTHER_TABLES`, which other commands read (``[serve]``
belongs to ``monolith serve``). In the environment
only ``MONOLITH_<FIELD>`` names are config: other ``MONOLITH_*`` variables
(``MONOLITH_WITH_BYTEPS``, test switches) belong to other parts of monolith
and are ignored.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from monolith.domain.config import RunConfig
from monolith.domain.config_fields import ENV_PREFIX, FieldSpec, field_specs
from monolith.domain.config_values import CODE_SOURCE, Layer, Source
from monolith.domain.errors import ConfigError

logger = logging.getLogger(__name__)

CLI_SET_SOURCE = Source(Layer.CLI, "cli --set")

OTHER_TABLES: frozenset[str] = frozenset({"serve"})
"""Top-level TOML tables that are not RunConfig fields; the run merge skips them."""


@attrs.frozen
class ConfigLayer:
    """Typed, checked values of one layer and the source of each.

    Attributes:
        layer: The precedence layer; :func:`merge_layers` applies lower first.
        values: Field name to value, already of the field's type.
        sources: Field name to where that value came from.
    """

    layer: Layer
    values: Mapping[str, Any] = attrs.field(factory=dict)
    sources: Mapping[str, Source] = attrs.field(factory=dict)


def _specs() -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in field_specs(RunConfig)}


def _spec_for(key: str, source: Source) -> FieldSpec:
    specs = _specs()
    spec = specs.get(key)
    if spec is None:
        close = difflib.get_close_matches(key, list(specs), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown config key {key!r} from {source}{hint} "
            "(`monolith config show` lists the keys)"
        )
    return spec


def file_layer(document: Mapping[str, object], path: str) -> ConfigLayer:
    """The layer of a parsed TOML document: top-level keys are field names.

    Args:
        document: What ``tomllib.load`` returned. Tables named in
            :data:`OTHER_TABLES` are skipped.
        path: The file's path, for provenance and errors.

    Raises:
        ConfigError: An unknown key or a value of the wrong type; the message
            names key, ``file <path>`` and the expected type.
    """
    source = Source(Layer.FILE, f"file {path}")
    values = {}
    for key, raw in document.items():
        if key in OTHER_TABLES and isinstance(raw, Mapping):
            continue
        spec = _spec_for(key, source)
        values[key] = spec.type.coerce(key, raw, source)
    return ConfigLayer(Layer.FILE, values, dict.fromkeys(values, source))


def env_layer(environ: Mapping[str, str]) -> ConfigLayer:
    """The layer of ``MONOLITH_<FIELD>`` variables in ``environ``.

    Variables without the prefix, and ``MONOLITH_*`` names that are not a
    field, are ignored (the latter logged at DEBUG).

    Raises:
        ConfigError: A field's variable does not parse; the message names the
            key, ``env MONOLITH_<FIELD>`` and the expected type.
    """
    by_env = {spec.env_name: spec for spec in field_specs(RunConfig)}
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        spec = by_env.get(name)
        if spec is None:
            logger.debug("env variable is not a config field name=%s", name)
            continue
        source = Source(Layer.ENV, f"env {name}")
        values[spec.name] = spec.type.parse_text(spec.name, environ[name], source)
        sources[spec.name] = source
    return ConfigLayer(Layer.ENV, values, sources)


def cli_layer(assignments: Sequence[str]) -> ConfigLayer:
    """The layer of repeated ``--set key=value`` options; the last one wins.

    Keys may use ``-`` for ``_``. Values are text, typed by the field (see
    :meth:`~monolith.domain.config_values.ValueType.parse_text`).

    Raises:
        ConfigError: An item without ``=``, an unknown key or a bad value;
            the message names key, ``cli --set`` and the expected type.
    """
    values: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(
                f"cli --set {item!r}: expected key=value, e.g. --set num_ps=2"
            )
        spec = _spec_for(key, CLI_SET_SOURCE)
        values[key] = spec.type.parse_text(key, raw, CLI_SET_SOURCE)
    return ConfigLayer(Layer.CLI, values, dict.fromkeys(values, CLI_SET_SOURCE))


def flag_layer(flags: Mapping[str, object]) -> ConfigLayer:
    """The layer of a command's own typed options, e.g. ``--model-dir``.

    Args:
        flags: Field name to the option's value. ``None``, and the empty
            tuple a ``multiple=True`` option gives, mean the user did not give
            the option; they are skipped.

    Raises:
        ConfigError: An unknown key or a value of the wrong type.
    """
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for key, raw in flags.items():
        if raw is None or raw == ():
            continue
        source = Source(Layer.CLI, "cli --" + key.replace("_", "-"))
        spec = _spec_for(key, source)
        values[key] = spec.type.coerce(key, raw, source)
        sources[key] = source
    return ConfigLayer(Layer.CLI, values, sources)


def code_layer(values: Mapping[str, object] | RunConfig) -> ConfigLayer:
    """The layer of values set in code: a mapping, or a RunConfig's code values.

    From a :class:`RunConfig` only the fields it recorded as set from code
    are taken, so ``RunConfig(num_ps=2)`` contributes ``num_ps`` alone.

    Raises:
        ConfigError: An unknown key or a value of the wrong type; the message
            names key, ``code`` and the expected type.
    """
    if isinstance(values, RunConfig):
        picked = {
            name: getattr(values, name)
            for name, source in values.sources.items()
            if source.layer == Layer.CODE
        }
    else:
        picked = dict(values)
    checked = {}
    for key, raw in picked.items():
        spec = _spec_for(key, CODE_SOURCE)
        checked[key] = spec.type.coerce(key, raw, CODE_SOURCE)
    return ConfigLayer(Layer.CODE, checked, dict.fromkeys(checked, CODE_SOURCE))


def merge_layers(layers: Iterable[ConfigLayer]) -> RunConfig:
    """Fold layers into a RunConfig; a higher layer wins, then a later one.

    Layers are applied in order of :class:`Layer` (stable, so two layers of
    the same rank apply in the order given). Fields no layer sets keep their
    defaults and are not in ``user_overrides()``.
    """
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for layer in sorted(layers, key=lambda item: item.layer):
        values.update(layer.values)
        sources.update(layer.sources)
    return RunConfig(**values, sources=sources)


def merge_run_config(
    *,
    file: Mapping[str, object] | None = None,
    file_path: str = "<config>",
    env: Mapping[str, str] | None = None,
    cli_sets: Sequence[str] = (),
    cli_flags: Mapping[str, object] | None = None,
    code: Mapping[str, object] | RunConfig | None = None,
) -> RunConfig:
    """Merge every layer the caller has into one RunConfig.

    Args:
        file: A parsed TOML document, or None without a config file.
        file_path: The document's path, for provenance and errors.
        env: An environment mapping (the caller passes ``os.environ``).
        cli_sets: ``--set key=value`` strings, in command-line order.
        cli_flags: A command's own options by field name (None = not given);
            they apply after ``--set``.
        code: Values set explicitly in code; they beat every other layer.

    Raises:
        ConfigError: Any layer has an unknown key or a mistyped value.
    """
    layers = []
    if file is not None:
        layers.append(file_layer(file, file_path))
    if env is not None:
        layers.append(env_layer(env))
    layers.append(cli_layer(cli_sets))
    if cli_flags is not None:
        layers.append(flag_layer(cli_flags))
    if code is not None:
        layers.append(code_layer(code))
    return merge_layers(layers)
