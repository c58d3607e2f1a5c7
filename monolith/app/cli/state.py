"""State shared by every command through the click context."""

from __future__ import annotations

import attrs


@attrs.define
class CliState:
    """Options of the top-level group that subcommands can read."""

    verbose: bool = False
