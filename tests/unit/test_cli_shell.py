"""The command-line shell: help, version and the error policy."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from monolith import __version__
from monolith.app.cli.main import cli

pytestmark = pytest.mark.unit


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])

    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_the_command_group() -> None:
    result = CliRunner().invoke(cli, ["--help"])

    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_importing_monolith_and_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import sys, monolith, monolith.app.cli.main, monolith.ports, "
        "monolith.app.container\n"
        "heavy = {'torch', 'tensorflow', 'kazoo', 'consul', 'grpc'}\n"
        "heavy &= set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )

    subprocess.run([sys.executable, "-c", code], check=True)
