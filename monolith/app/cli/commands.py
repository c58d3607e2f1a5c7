"""The command table: one import per working command, in ``--help`` order.

Each command lives in its own module under ``monolith.app.cli``; a command is
added here only once it works.
"""

from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    """Return the top-level commands; heavy adapters load only when one runs."""
    from monolith.app.cli.config_cmd import config_group
    from monolith.app.cli.export_cmd import export
    from monolith.app.cli.serve_cmd import serve

    commands: list[click.Command] = [config_group, export, serve]
    return commands
