"""``monolith ps``: one parameter server that registers itself in discovery."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from monolith.app.config_loader import config_options, load_run_config
from monolith.domain.errors import UsageError

logger = logging.getLogger(__name__)

DISCOVERY_CHOICES = ["zk", "consul", "tf_config", "mlp", "file"]


@click.command("ps")
@click.option("--index", type=int, help="This PS's index (0-based).")
@click.option("--num-ps", type=int, help="Parameter servers in the job.")
@click.option("--num-workers", type=int, help="Workers in the job.")
@click.option(
    "--discovery",
    type=click.Choice(DISCOVERY_CHOICES),
    help="Where this PS registers (unset: zk).",
)
@click.option("--job-name", help="Job name; ZooKeeper path /monolith/<job-name>.")
@click.option("--zk-servers", help="ZooKeeper ensemble, host:port,host:port[/chroot].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option(
    "--port", type=int, default=0, show_default=True, help="Port; 0 lets the OS pick."
)
@click.option(
    "--grace",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds in-flight calls may finish after SIGTERM.",
)
@config_options
def ps_command(
    index: int | None,
    num_ps: int | None,
    num_workers: int | None,
    discovery: str | None,
    job_name: str | None,
    zk_servers: str | None,
    host: str,
    port: int,
    grace: float,
    config_file: Path | None,
    sets: tuple[str, ...],
) -> None:
    """Serve one PS shard over gRPC and register it as ps.<index>.

    Runs until SIGTERM or SIGINT (or the chief's Shutdown call), then
    deregisters, lets running calls finish within --grace and exits 0.
    """
    from monolith.adapters.parameters.grpc_server import start_ps_server
    from monolith.adapters.parameters.local import LocalParameterStore
    from monolith.adapters.storage.local import LocalFileSystem
    from monolith.app.runner import discovery_guard, role_from_tf_config

    run = load_run_config(
        config_file,
        sets,
        flags={
            "is_local": False,
            "server_type": "ps",
            "index": index,
            "num_ps": num_ps,
            "num_workers": num_workers,
            "discovery_type": discovery,
            "job_name": job_name,
            "zk_servers": tuple(zk_servers.split(",")) if zk_servers else None,
        },
    )
    runner = run.to_runner_config()
    server_type, ps_index = role_from_tf_config(runner)
    if server_type != "ps":
        raise UsageError(
            f"TF_CONFIG makes this process a {server_type!r}, not a 'ps': start "
            "it with `monolith worker` or fix TF_CONFIG's task"
        )

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("ps stopping signal=%s", signal.Signals(signum).name)
        stop.set()

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    handle = start_ps_server(LocalParameterStore(1, fs=LocalFileSystem()), host, port)
    try:
        with discovery_guard(runner) as registry:
            assert registry is not None  # is_local is False
            registry.register("ps", ps_index, handle.address)
            click.echo(
                f"ps serving index={ps_index} addr={handle.address} "
                f"discovery={runner.discovery_type} job={runner.job_name}"
            )
            while not stop.is_set() and not handle.wait(0.2):
                pass
            registry.deregister("ps", ps_index, handle.address)
    finally:
        handle.stop(grace)
        for sig, old in previous.items():
            signal.signal(sig, old)
    click.echo(f"ps stopped index={ps_index}")
