"""``monolith cluster status``: the roles and addresses discovery sees."""

from __future__ import annotations

from pathlib import Path

import click

from monolith.app.config_loader import config_options, load_run_config

DISCOVERY_CHOICES = ["zk", "consul", "tf_config", "mlp", "file"]


@click.group("cluster")
def cluster_group() -> None:
    """Inspect a multi-process job."""


@cluster_group.command("status")
@click.option(
    "--discovery",
    type=click.Choice(DISCOVERY_CHOICES),
    help="Where the job registers (unset: zk).",
)
@click.option("--job-name", help="Job name; ZooKeeper path /monolith/<job-name>.")
@click.option("--zk-servers", help="ZooKeeper ensemble, host:port,host:port[/chroot].")
@click.option(
    "--roles",
    default="ps,worker",
    show_default=True,
    help="Comma-separated role names to list.",
)
@config_options
def status_command(
    discovery: str | None,
    job_name: str | None,
    zk_servers: str | None,
    roles: str,
    config_file: Path | None,
    sets: tuple[str, ...],
) -> None:
    """List every registered role, index and address, one per line.

    Output: a header line ``job=<name> discovery=<kind>``, then
    ``<role> <index> <host:port>`` lines sorted by role and index, then
    ``total=<n>``.
    """
    from monolith.app.runner import discovery_guard

    run = load_run_config(
        config_file,
        sets,
        flags={
            "is_local": False,
            "discovery_type": discovery,
            "job_name": job_name,
            "zk_servers": tuple(zk_servers.split(",")) if zk_servers else None,
        },
    )
    runner = run.to_runner_config()
    names = [r.strip() for r in roles.split(",") if r.strip()]
    total = 0
    with discovery_guard(runner) as registry:
        assert registry is not None  # is_local is False
        click.echo(f"job={runner.job_name} discovery={runner.discovery_type}")
        for name in names:
            for index, addr in sorted(registry.query(name).items()):
                click.echo(f"{name} {index} {addr}")
                total += 1
    click.echo(f"total={total}")
