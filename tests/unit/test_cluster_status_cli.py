"""`monolith cluster status` lists what discovery holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monolith.adapters.discovery.file_discovery import FileDiscovery
from monolith.app.cli.main import cli

pytestmark = pytest.mark.unit


def test_cluster_status_lists_roles_indexes_and_addresses(tmp_path: Path) -> None:
    registry = FileDiscovery(tmp_path)
    registry.register("ps", 1, "127.0.0.1:2001")
    registry.register("ps", 0, "127.0.0.1:2000")
    registry.register("worker", 0, "[::1]:3000")

    result = CliRunner().invoke(
        cli,
        [
            "cluster",
            "status",
            "--discovery",
            "file",
            "--job-name",
            "j",
            "--set",
            f"file_discovery_dir={tmp_path}",
        ],
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "job=j discovery=file",
        "ps 0 127.0.0.1:2000",
        "ps 1 127.0.0.1:2001",
        "worker 0 [::1]:3000",
        "total=3",
    ]
