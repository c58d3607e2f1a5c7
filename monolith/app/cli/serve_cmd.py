"""``monolith serve``: the gRPC Prediction service over an export directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from monolith.app.config_loader import read_config_file
from monolith.domain.errors import ConfigError
from monolith.domain.serve_settings import merge_serve_settings


@click.command("serve")
@click.option("--export-dir", default=None, metavar="DIR", help="Export base to serve.")
@click.option("--host", default=None, help="Bind address  [default: 127.0.0.1]")
@click.option("--port", type=int, default=None, help="gRPC port  [default: 8500]")
@click.option("--workers", type=int, default=None, help="Worker threads  [default: 4]")
@click.option(
    "--grace",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Time in-flight requests get on SIGINT/SIGTERM  [default: 10]",
)
@click.option("--tls-cert", default=None, metavar="FILE", help="PEM certificate chain.")
@click.option("--tls-key", default=None, metavar="FILE", help="PEM private key.")
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Prometheus /metrics HTTP port (0 picks one); off unless given.",
)
@click.option(
    "--poll-interval",
    type=float,
    default=None,
    metavar="SECONDS",
    help="How often to look for new export versions  [default: 2]",
)
@click.option("--max-batch", type=int, default=None, help="Largest Predict batch.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="TOML file; its [serve] table sets any of these options.",
)
def serve(config_file: Path | None, **flags: Any) -> None:
    """Serve the newest version under the export dir until SIGINT/SIGTERM.

    New versions are picked up without a restart. Health (grpc.health.v1)
    reports SERVING once a model is loaded. On SIGINT/SIGTERM the server stops
    accepting, lets in-flight requests finish within --grace and exits 0.
    """
    from monolith.app.serving.runner import RunningServer, run_server

    file_values: dict[str, Any] = {}
    if config_file is not None:
        document = read_config_file(config_file)
        table = document.get("serve", {})
        if not isinstance(table, dict):
            raise ConfigError(f"config file {config_file}: [serve] must be a table")
        file_values = table
    given = {key: value for key, value in flags.items() if value is not None}
    settings = merge_serve_settings(
        file_values, given, source=f"config file {config_file}"
    )

    def started(running: RunningServer) -> None:
        metrics = running.metrics_port if running.metrics_port is not None else "off"
        click.echo(
            f"serving address={running.address} export_dir={settings.export_dir} "
            f"metrics_port={metrics}"
        )

    run_server(settings, on_started=started)
    click.echo("stopped")
