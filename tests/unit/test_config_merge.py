"""The layered merge: defaults < file < env < CLI < code, with provenance."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.config import RunConfig
from monolith.domain.config_fields import FieldSpec, field_specs
from monolith.domain.config_merge import (
    ConfigLayer,
    cli_layer,
    code_layer,
    env_layer,
    file_layer,
    flag_layer,
    merge_layers,
    merge_run_config,
)
from monolith.domain.config_values import Layer, Source, ValueType, format_value
from monolith.domain.errors import ConfigError

pytestmark = pytest.mark.unit

SPECS = {spec.name: spec for spec in field_specs(RunConfig)}


def test_env_beats_file() -> None:
    merged = merge_run_config(
        file={"num_ps": 1}, file_path="/x/run.toml", env={"MONOLITH_NUM_PS": "3"}
    )

    assert merged.num_ps == 3
    assert str(merged.source_of("num_ps")) == "env MONOLITH_NUM_PS"


def test_cli_beats_env() -> None:
    merged = merge_run_config(env={"MONOLITH_NUM_PS": "3"}, cli_sets=["num_ps=5"])

    assert merged.num_ps == 5
    assert str(merged.source_of("num_ps")) == "cli --set"


def test_code_beats_cli() -> None:
    merged = merge_run_config(cli_sets=["num_ps=5"], code={"num_ps": 7})

    assert merged.num_ps == 7
    assert str(merged.source_of("num_ps")) == "code"


def test_file_values_record_the_file_path() -> None:
    merged = merge_run_config(file={"backend": "tf"}, file_path="/x/run.toml")

    assert merged.backend == "tf"
    assert str(merged.source_of("backend")) == "file /x/run.toml"
    assert str(merged.source_of("num_ps")) == "default"


def test_the_last_of_repeated_sets_wins() -> None:
    merged = merge_run_config(cli_sets=["num_ps=1", "num_ps=2"])

    assert merged.num_ps == 2


def test_set_accepts_dashes_for_underscores() -> None:
    merged = merge_run_config(cli_sets=["batch-size=8"])

    assert merged.batch_size == 8


def test_a_set_value_may_contain_equals_signs() -> None:
    merged = merge_run_config(cli_sets=["model_dir=/tmp/a=b"])

    assert merged.model_dir == "/tmp/a=b"


def test_an_empty_set_value_clears_an_optional_field() -> None:
    merged = merge_run_config(file={"model_dir": "/m"}, cli_sets=["model_dir="])

    assert merged.model_dir is None
    assert "model_dir" in merged.user_overrides()


def test_unknown_cli_key_names_the_key_and_layer() -> None:
    with pytest.raises(ConfigError) as info:
        cli_layer(["no_such_field=1"])

    assert "unknown config key 'no_such_field' from cli --set" in str(info.value)


def test_a_near_miss_key_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean 'num_ps'"):
        cli_layer(["num_pss=1"])


def test_a_set_without_equals_is_an_error_showing_the_form() -> None:
    with pytest.raises(ConfigError, match="expected key=value"):
        cli_layer(["num_ps"])


def test_unknown_file_key_names_the_file() -> None:
    with pytest.raises(ConfigError, match="'bogus' from file /x/run.toml"):
        file_layer({"bogus": 1}, "/x/run.toml")


def test_an_unknown_toml_table_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'train'"):
        file_layer({"train": {"steps": 1}}, "run.toml")


def test_tables_of_other_commands_are_skipped() -> None:
    layer = file_layer({"serve": {"port": 1}, "num_ps": 2}, "run.toml")

    assert layer.values == {"num_ps": 2}


def test_a_reserved_name_that_is_not_a_table_is_still_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'serve'"):
        file_layer({"serve": 1}, "run.toml")


def test_wrong_file_type_names_key_layer_and_type() -> None:
    with pytest.raises(ConfigError) as info:
        file_layer({"num_ps": "2"}, "/x/run.toml")

    assert str(info.value) == (
        "config key 'num_ps' from file /x/run.toml: expected int >= 0, got '2'"
    )


def test_wrong_env_type_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        env_layer({"MONOLITH_NUM_PS": "two"})

    assert str(info.value) == (
        "config key 'num_ps' from env MONOLITH_NUM_PS: expected int >= 0, got 'two'"
    )


def test_wrong_cli_type_names_the_option() -> None:
    with pytest.raises(ConfigError, match="'enable_gpu_training' from cli --set"):
        cli_layer(["enable_gpu_training=perhaps"])


def test_unknown_code_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'numps' from code"):
        code_layer({"numps": 2})


def test_env_ignores_other_monolith_variables_and_foreign_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="monolith.domain.config_merge")
    environ = {
        "MONOLITH_WITH_BYTEPS": "1",
        "MONOLITH_TEST_ZK": "x",
        "NUM_PS": "9",
        "MONOLITH_NUM_WORKERS": "2",
    }

    layer = env_layer(environ)

    assert layer.values == {"num_workers": 2}
    assert "name=MONOLITH_WITH_BYTEPS" in caplog.text


def test_env_names_are_case_sensitive() -> None:
    assert env_layer({"monolith_num_ps": "2", "MONOLITH_num_ps": "2"}).values == {}


def test_a_typed_flag_layer_skips_options_not_given() -> None:
    layer = flag_layer({"model_dir": "/m", "num_ps": None})

    assert layer.values == {"model_dir": "/m"}
    assert str(layer.sources["model_dir"]) == "cli --model-dir"


def test_an_empty_tuple_from_a_multiple_option_means_not_given() -> None:
    assert flag_layer({"serving_addrs": ()}).values == {}


def test_flags_apply_after_sets() -> None:
    merged = merge_run_config(cli_sets=["model_dir=/a"], cli_flags={"model_dir": "/b"})

    assert merged.model_dir == "/b"


def test_a_run_config_contributes_only_its_code_values() -> None:
    from_cli = merge_run_config(cli_sets=["batch_size=8"]).replace(num_ps=2)

    layer = code_layer(from_cli)

    assert layer.values == {"num_ps": 2}


def test_layer_order_not_argument_order_decides() -> None:
    code = code_layer({"num_ps": 1})
    env = env_layer({"MONOLITH_NUM_PS": "2"})

    assert merge_layers([code, env]).num_ps == 1
    assert merge_layers([env, code]).num_ps == 1


# Hypothesis: determinism, later layers win, user_overrides is exactly the set


def _value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    vt: ValueType = spec.type
    inner: st.SearchStrategy[Any]
    if vt.kind == "bool":
        inner = st.booleans()
    elif vt.kind == "int":
        low = int(vt.minimum) if vt.minimum is not None else -1000
        inner = st.integers(low, low + 10**6)
    elif vt.kind == "float":
        low = vt.minimum if vt.minimum is not None else 0.5
        inner = st.floats(low, 1e6, allow_nan=False).filter(
            lambda x: vt.above is None or x > vt.above
        )
    elif vt.kind == "choice":
        inner = st.sampled_from(vt.choices)
    elif vt.kind == "strs":
        inner = st.lists(st.sampled_from(["a:1", "b:2", "c"]), max_size=3).map(tuple)
    else:
        inner = st.text(alphabet="abc/._-", min_size=1, max_size=8)
    return (st.none() | inner) if vt.optional else inner


_FIELD_NAMES = sorted(SPECS)


@st.composite
def _assignments(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(_FIELD_NAMES), max_size=8, unique=True))
    return {name: draw(_value(SPECS[name])) for name in names}


def _text(values: dict[str, Any]) -> dict[str, str]:
    return {name: format_value(value) for name, value in values.items()}


@settings(max_examples=100, deadline=None)
@given(
    file=_assignments(),
    env=_assignments(),
    cli=_assignments(),
    code=_assignments(),
)
def test_the_highest_layer_that_sets_a_field_wins(
    file: dict[str, Any],
    env: dict[str, Any],
    cli: dict[str, Any],
    code: dict[str, Any],
) -> None:
    environ = {SPECS[n].env_name: t for n, t in _text(env).items()}
    sets = [f"{n}={t}" for n, t in _text(cli).items()]

    merged = merge_run_config(
        file=file, file_path="f.toml", env=environ, cli_sets=sets, code=code
    )

    for name, spec in SPECS.items():
        expected = spec.default
        layer = Layer.DEFAULT
        for rank, values in (
            (Layer.FILE, file),
            (Layer.ENV, env),
            (Layer.CLI, cli),
            (Layer.CODE, code),
        ):
            if name in values:
                expected, layer = values[name], rank
        assert getattr(merged, name) == expected, name
        assert merged.source_of(name).layer == layer, name
    assert merged.user_overrides() == set(file) | set(env) | set(cli) | set(code)


@settings(max_examples=60, deadline=None)
@given(layers=st.lists(st.tuples(st.sampled_from(list(Layer)[1:]), _assignments())))
def test_merging_is_deterministic_and_independent_of_argument_order(
    layers: list[tuple[Layer, dict[str, Any]]],
) -> None:
    built = [
        ConfigLayer(rank, values, dict.fromkeys(values, Source(rank, rank.name)))
        for rank, values in layers
    ]

    first = merge_layers(built)
    again = merge_layers(list(built))
    by_rank = merge_layers(sorted(built, key=lambda layer: -layer.layer))

    assert first == again
    assert dict(first.sources) == dict(again.sources)
    if len({layer.layer for layer in built}) == len(built):
        assert first == by_rank
        assert dict(first.sources) == dict(by_rank.sources)
