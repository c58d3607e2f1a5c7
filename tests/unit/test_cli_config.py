"""``monolith config show`` and ``monolith config validate``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from monolith.app.cli.main import cli
from monolith.domain.config import RunConfig
from monolith.domain.config_fields import field_specs

pytestmark = pytest.mark.unit


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _row(output: str, field: str) -> list[str]:
    for line in output.splitlines():
        if line.split(" ", 1)[0] == field:
            return re.split(r"\s{2,}", line.strip())
    raise AssertionError(f"no row for {field} in:\n{output}")


def test_config_is_listed_in_help(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])

    assert "config" in result.output


def test_show_reports_num_ps_from_the_cli_layer(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["config", "show", "--set", "num_ps=2"])

    assert result.exit_code == 0, result.output
    assert _row(result.stdout, "num_ps") == ["num_ps", "2", "cli --set"]
    assert _row(result.stdout, "num_workers") == ["num_workers", "1", "default"]


def test_show_prints_an_aligned_row_for_every_field(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["config", "show"])

    table = result.stdout.split("\n\n")[0].splitlines()
    assert table[0].split() == ["field", "value", "source"]
    value_columns = {
        line.index(line.split()[1], len(line.split()[0])) for line in table
    }
    assert len(value_columns) == 1
    assert len(table) == 1 + len(field_specs(RunConfig))


def test_show_lists_the_runner_rewrites(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["config", "show"])

    assert "runner rewrites:" in result.stdout
    assert '  discovery_type: none -> "zk" (unset discovery defaults to zk)' in (
        result.stdout
    )


def test_show_names_file_env_and_cli_layers(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "run.toml"
    config.write_text('backend = "tf"\nnum_ps = 1\nbatch_size = 64\n')
    monkeypatch.setenv("MONOLITH_NUM_PS", "3")

    result = runner.invoke(
        cli, ["config", "show", "--config", str(config), "--set", "batch_size=8"]
    )

    assert result.exit_code == 0, result.output
    assert _row(result.stdout, "backend") == ["backend", '"tf"', f"file {config}"]
    assert _row(result.stdout, "num_ps") == ["num_ps", "3", "env MONOLITH_NUM_PS"]
    assert _row(result.stdout, "batch_size") == ["batch_size", "8", "cli --set"]


def test_show_with_an_unknown_key_fails_naming_it_with_exit_2(
    runner: CliRunner,
) -> None:
    result = runner.invoke(cli, ["config", "show", "--set", "no_such_field=1"])

    assert result.exit_code == 2
    assert "no_such_field" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: unknown config")


def test_show_with_a_mistyped_env_value_names_the_variable(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONOLITH_BATCH_SIZE", "big")

    result = runner.invoke(cli, ["config", "show"])

    assert result.exit_code == 2
    assert (
        "error: config key 'batch_size' from env MONOLITH_BATCH_SIZE: "
        "expected int >= 1, got 'big'"
    ) in result.stderr


def test_validate_accepts_a_good_file(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "good.toml"
    config.write_text('num_ps = 2\nzk_servers = ["zk1:2181", "zk2:2181"]\n')

    result = runner.invoke(cli, ["config", "validate", str(config)])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: {config}\n"


def test_validate_rejects_a_mistyped_value(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('num_ps = "two"\n')

    result = runner.invoke(cli, ["config", "validate", str(config)])

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: config key 'num_ps' from file {config}: expected int >= 0, got 'two'"
    )


def test_validate_rejects_contradicting_fields(
    runner: CliRunner, tmp_path: Path
) -> None:
    config = tmp_path / "both.toml"
    config.write_text("save_checkpoints_steps = 10\nsave_checkpoints_secs = 60\n")

    result = runner.invoke(cli, ["config", "validate", str(config)])

    assert result.exit_code == 2
    assert "are both set; set only one" in result.stderr


def test_validate_reports_broken_toml_naming_the_file(
    runner: CliRunner, tmp_path: Path
) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("num_ps = = 2\n")

    result = runner.invoke(cli, ["config", "validate", str(config)])

    assert result.exit_code == 2
    assert f"config file {config} is not valid TOML" in result.stderr


def test_validate_reports_a_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"

    result = runner.invoke(cli, ["config", "validate", str(missing)])

    assert result.exit_code == 2
    assert f"config file {missing} does not exist" in result.stderr


def test_validate_ignores_the_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "good.toml"
    config.write_text("num_ps = 2\n")
    monkeypatch.setenv("MONOLITH_NUM_PS", "oops")

    result = runner.invoke(cli, ["config", "validate", str(config)])

    assert result.exit_code == 0, result.output
