"""``--task-option KEY=VALUE`` on train and worker."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from monolith.app.cli.main import cli
from monolith.app.cli.task_options import parse_task_options
from monolith.domain.errors import UsageError

pytestmark = pytest.mark.unit


def test_task_options_become_a_mapping_of_strings() -> None:
    options = parse_task_options(("hidden=64,32", " dim =8", "note=a=b"))

    assert options == {"hidden": "64,32", "dim": "8", "note": "a=b"}


@pytest.mark.parametrize(
    "item", ["hidden", "=8", " =1"], ids=["no-equals", "no-key", "blank-key"]
)
def test_a_task_option_without_key_and_value_is_refused_by_name(item: str) -> None:
    with pytest.raises(UsageError, match="is not KEY=VALUE"):
        parse_task_options((item,))


def test_train_refuses_a_malformed_task_option_before_training(tmp_path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--task",
            "examples.ctr.DeepFM",
            "--data",
            str(tmp_path / "missing-*"),
            "--model-dir",
            str(tmp_path / "model"),
            "--task-option",
            "hidden",
        ],
    )

    assert result.exit_code == UsageError.exit_code
    assert "--task-option 'hidden' is not KEY=VALUE" in result.output


def test_train_help_lists_the_task_option_flag() -> None:
    result = CliRunner().invoke(cli, ["train", "--help"])

    assert "--task-option" in result.output
