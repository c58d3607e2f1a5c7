"""RunConfig and RunnerConfig: the sentinel, provenance, rewrites, consistency."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import attrs
import pytest

from monolith.domain.config import RunConfig, RunnerConfig, plan_rewrites
from monolith.domain.config_fields import field_specs
from monolith.domain.config_merge import merge_run_config
from monolith.domain.config_values import UNSET
from monolith.domain.errors import ConfigError

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_every_field_has_a_doc_line_and_a_monolith_env_name() -> None:
    specs = field_specs(RunConfig)

    assert len(specs) >= 40
    for spec in specs:
        assert spec.doc and "\n" not in spec.doc, spec.name
        assert spec.env_name == "MONOLITH_" + spec.name.upper()


def test_runner_and_run_config_share_every_field() -> None:
    run_names = {spec.name for spec in field_specs(RunConfig)}
    runner_names = {spec.name for spec in field_specs(RunnerConfig)}

    assert run_names == runner_names


def test_documented_defaults_from_the_brief() -> None:
    config = RunConfig()

    assert config.backend == "torch"
    assert config.batch_size == 512
    assert config.max_to_keep == 10
    assert config.num_ps == 0
    assert config.num_workers == 1
    assert config.server_type == "worker"
    assert config.chief_timeout_secs == 1800
    assert config.max_rpc_deadline_millis == 30000
    assert config.max_pending_seconds_for_barrier == 30
    assert config.sync_interval_secs == 10.0
    assert config.discovery_type is None


def test_a_default_config_has_no_user_overrides() -> None:
    config = RunConfig()

    assert config.user_overrides() == frozenset()
    assert all(str(source) == "default" for source in config.sources.values())


def test_a_value_set_in_code_is_an_override_even_when_equal_to_the_default() -> None:
    config = RunConfig(num_ps=0, batch_size=512)

    assert config.user_overrides() == {"num_ps", "batch_size"}
    assert str(config.source_of("num_ps")) == "code"


def test_configs_with_equal_values_are_equal_whatever_their_provenance() -> None:
    assert RunConfig(num_ps=0) == RunConfig()
    assert hash(RunConfig(num_ps=0)) == hash(RunConfig())


def test_code_values_are_type_checked_and_normalised() -> None:
    config = RunConfig(serving_addrs=["h:1", "h:2"], sync_interval_secs=5)

    assert config.serving_addrs == ("h:1", "h:2")
    assert config.sync_interval_secs == 5.0
    assert isinstance(config.sync_interval_secs, float)


def test_a_mistyped_code_value_names_key_layer_and_type() -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(num_ps="2")  # type: ignore[arg-type]

    assert (
        str(info.value) == "config key 'num_ps' from code: expected int >= 0, got '2'"
    )


def test_an_unknown_choice_is_rejected_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="expected one of 'torch', 'tf'"):
        RunConfig(backend="jax")  # type: ignore[arg-type]


def test_source_of_an_unknown_field_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'nope'"):
        RunConfig().source_of("nope")


def test_replace_records_new_values_as_code_and_keeps_other_provenance() -> None:
    merged = merge_run_config(cli_sets=["num_ps=2"])

    changed = merged.replace(batch_size=64)

    assert changed.num_ps == 2
    assert str(changed.source_of("num_ps")) == "cli --set"
    assert str(changed.source_of("batch_size")) == "code"
    assert changed.user_overrides() == {"num_ps", "batch_size"}


def test_replace_on_a_runner_config_keeps_rewritten_values_and_rewrites() -> None:
    runner = RunConfig().to_runner_config()

    changed = runner.replace(server_type="ps", num_ps=1, is_local=False)

    assert changed.embedding_prefetch_capacity == 1
    assert changed.rewrites == runner.rewrites
    assert changed.user_overrides() == {"server_type", "num_ps", "is_local"}


def test_replace_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'nun_ps' from code"):
        RunConfig().replace(nun_ps=2)


def test_attrs_defaults_are_the_sentinel_not_the_real_default() -> None:
    fields = attrs.fields_dict(RunConfig)

    assert fields["num_ps"].default is UNSET
    assert fields["backend"].default is UNSET


# §8.4 rewrites and §8.6 derived scenarios


def test_default_run_config_gives_zk_prefetch_one_and_postpush_on() -> None:
    runner = RunConfig().to_runner_config()

    assert runner.discovery_type == "zk"
    assert runner.embedding_prefetch_capacity == 1
    assert runner.enable_embedding_postpush is True


def test_explicit_consul_stays_consul() -> None:
    runner = RunConfig(discovery_type="consul").to_runner_config()

    assert runner.discovery_type == "consul"


def test_gpu_training_keeps_prefetch_and_postpush_as_given() -> None:
    runner = RunConfig(enable_gpu_training=True).to_runner_config()

    assert runner.embedding_prefetch_capacity == 0
    assert runner.enable_embedding_postpush is False


def test_cpu_keeps_a_prefetch_capacity_above_one() -> None:
    runner = RunConfig(embedding_prefetch_capacity=3).to_runner_config()

    assert runner.embedding_prefetch_capacity == 3


def test_parameter_sync_implies_realtime_training() -> None:
    runner = RunConfig(enable_parameter_sync=True).to_runner_config()

    assert runner.enable_realtime_training is True


def test_code_num_ps_beats_a_cli_flag() -> None:
    merged = merge_run_config(cli_sets=["num_ps=4"], code=RunConfig(num_ps=2))

    assert merged.to_runner_config().num_ps == 2


def test_an_unset_code_field_lets_the_cli_flag_through() -> None:
    merged = merge_run_config(cli_sets=["num_ps=4"], code=RunConfig())

    assert merged.to_runner_config().num_ps == 4


def test_unset_max_retry_times_keeps_the_runner_default() -> None:
    assert RunConfig().to_runner_config().max_retry_times == 0


def test_explicit_max_retry_times_is_used_even_at_the_originals_default() -> None:
    # Decision 4: the sentinel, not equality with a default, decides.
    assert RunConfig(max_retry_times=6).to_runner_config().max_retry_times == 6


def test_each_rewrite_is_logged_once_with_field_and_both_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="monolith.domain.config")

    RunConfig(enable_parameter_sync=True).to_runner_config()

    lines = [r.getMessage() for r in caplog.records if "rewritten" in r.getMessage()]
    assert lines == [
        "config rewritten field=discovery_type from=None to='zk' "
        "reason=unset discovery defaults to zk",
        "config rewritten field=embedding_prefetch_capacity from=0 to=1 "
        "reason=the original forces it on CPU training",
        "config rewritten field=enable_embedding_postpush from=False to=True "
        "reason=the original forces it on CPU training",
        "config rewritten field=enable_realtime_training from=False to=True "
        "reason=enable_parameter_sync implies enable_realtime_training",
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records)


def test_no_rewrite_is_planned_when_nothing_needs_one() -> None:
    config = RunConfig(
        discovery_type="memory",
        embedding_prefetch_capacity=1,
        enable_embedding_postpush=True,
    )

    assert plan_rewrites(config) == []
    assert config.to_runner_config().rewrites == ()


def test_runner_keeps_provenance_and_lists_its_rewrites() -> None:
    runner = merge_run_config(cli_sets=["num_ps=3"]).to_runner_config()

    assert str(runner.source_of("num_ps")) == "cli --set"
    assert runner.user_overrides() == {"num_ps"}
    assert [r.field for r in runner.rewrites][0] == "discovery_type"


# consistency


def test_both_checkpoint_cadences_set_is_an_error_naming_both_layers() -> None:
    merged = merge_run_config(
        env={"MONOLITH_SAVE_CHECKPOINTS_SECS": "60"},
        cli_sets=["save_checkpoints_steps=100"],
    )

    with pytest.raises(ConfigError) as info:
        merged.to_runner_config()

    assert str(info.value) == (
        "save_checkpoints_steps (from cli --set) and save_checkpoints_secs "
        "(from env MONOLITH_SAVE_CHECKPOINTS_SECS) are both set; set only one"
    )


def test_file_discovery_needs_its_directory() -> None:
    with pytest.raises(ConfigError, match="needs file_discovery_dir"):
        RunConfig(discovery_type="file").to_runner_config()


def test_a_worker_index_out_of_range_is_an_error_outside_local_runs() -> None:
    config = RunConfig(is_local=False, num_workers=2, index=2)

    with pytest.raises(ConfigError, match="expected 0 <= index < num_workers"):
        config.to_runner_config()


def test_a_ps_needs_num_ps_above_its_index() -> None:
    with pytest.raises(ConfigError, match="expected 0 <= index < num_ps"):
        RunnerConfig(is_local=False, server_type="ps", num_ps=0)


def test_a_local_run_ignores_role_indices() -> None:
    runner = RunnerConfig(is_local=True, index=5)

    assert runner.is_chief


@pytest.mark.parametrize(
    ("server_type", "index", "chief"),
    [("worker", 0, True), ("worker", 1, False), ("ps", 0, False)],
)
def test_worker_zero_is_the_chief(server_type: str, index: int, chief: bool) -> None:
    runner = RunnerConfig(
        is_local=False, server_type=server_type, index=index, num_ps=2, num_workers=2
    )

    assert runner.is_chief is chief


def test_docs_list_every_field() -> None:
    text = DOCS.read_text(encoding="utf-8")

    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))
    assert documented == {spec.name for spec in field_specs(RunConfig)}
