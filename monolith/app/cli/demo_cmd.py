"""``monolith demo``: generate data, train, evaluate, report AUC vs the optimum."""

from __future__ import annotations

import tempfile

import click


@click.command("demo")
@click.option("--out", "out_dir", help="Working directory (default: a new temp dir).")
@click.option(
    "--backend",
    type=click.Choice(["torch", "tf"]),
    default="torch",
    show_default=True,
    help="Dense-tower backend.",
)
@click.option("--rows", type=int, default=1_000_000, show_default=True)
@click.option("--steps", type=int, default=2000, show_default=True)
@click.option("--batch-size", type=int, default=512, show_default=True)
def demo_command(
    out_dir: str | None, backend: str, rows: int, steps: int, batch_size: int
) -> None:
    """Run the whole loop on embedded defaults and print AUC next to the optimum.

    Rerunning with the same --out reuses the data and resumes training from
    the newest checkpoint.
    """
    from monolith.adapters.clock.system import SystemClock
    from monolith.adapters.storage.local import LocalFileSystem
    from monolith.app.demo import DemoSettings, run_demo

    if out_dir is None:
        out_dir = tempfile.mkdtemp(prefix="monolith-demo-")
    click.echo(f"demo: working in {out_dir}")
    settings = DemoSettings(
        rows=rows,
        steps=steps,
        batch_size=batch_size,
        backend="tf" if backend == "tf" else "torch",
    )
    run_demo(LocalFileSystem(), SystemClock(), out_dir, settings, echo=click.echo)
