"""The command table: one import per working command, in ``--help`` order.

Each command lives in its own module under ``monolith.app.cli``; a command is
added here only once it works.
"""

from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    """Return the top-level commands; heavy adapters load only when one runs."""
    from monolith.app.cli.checkpoints_cmd import checkpoints_group
    from monolith.app.cli.cluster_cmd import cluster_group
    from monolith.app.cli.config_cmd import config_group
    from monolith.app.cli.data_cmd import data
    from monolith.app.cli.datagen_cmd import datagen
    from monolith.app.cli.demo_cmd import demo_command
    from monolith.app.cli.dump_table_cmd import dump_table_command
    from monolith.app.cli.evaluate_cmd import evaluate_command
    from monolith.app.cli.export_cmd import export
    from monolith.app.cli.predict_cmd import predict_command
    from monolith.app.cli.ps_cmd import ps_command
    from monolith.app.cli.serve_cmd import serve
    from monolith.app.cli.train_cmd import train_command
    from monolith.app.cli.worker_cmd import worker_command

    commands: list[click.Command] = [
        config_group,
        datagen,
        data,
        train_command,
        ps_command,
        worker_command,
        cluster_group,
        evaluate_command,
        predict_command,
        checkpoints_group,
        dump_table_command,
        export,
        serve,
        demo_command,
    ]
    return commands
