"""The ``monolith`` command group, its error policy and the command table.

An error that reaches the command line prints one line on stderr and exits
with the ``exit_code`` of its :class:`~monolith.domain.errors.MonolithError`
class; ``--verbose`` adds the traceback. Commands register here only once they
work, so ``--help`` never lists a stub.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any

import click

from monolith import __version__
from monolith.app.cli.state import CliState
from monolith.domain.errors import MonolithError

logger = logging.getLogger(__name__)

INTERNAL_ERROR_EXIT = 70


class MonolithGroup(click.Group):
    """A click group that turns monolith errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonolithError as exc:
            _report(ctx, exc, exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            _report(ctx, exc, INTERNAL_ERROR_EXIT, prefix="internal error")
        return None


def _report(
    ctx: click.Context, exc: BaseException, code: int, prefix: str = "error"
) -> None:
    state = ctx.find_object(CliState)
    if state is not None and state.verbose:
        click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    click.echo(f"{prefix}: {message}", err=True)
    ctx.exit(code)


@click.group(
    cls=MonolithGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, "--version", prog_name="monolith")
@click.option("--verbose", "-v", is_flag=True, help="Log at DEBUG and show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """monolith: train and serve recommendation models with collisionless embeddings."""
    ctx.obj = CliState(verbose=verbose)
    _configure_logging(verbose)


def _configure_logging(verbose: bool) -> None:
    root = logging.getLogger("monolith")
    if not any(getattr(h, "_monolith_cli", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        handler._monolith_cli = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def _register_commands() -> None:
    """Add every command that works. Order here is the order in ``--help``."""
    from monolith.app.cli import commands

    for command in commands.all_commands():
        cli.add_command(command)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="monolith")
