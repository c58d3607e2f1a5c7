"""Reads the config file and the environment, then runs the domain merge.

Every command that needs a :class:`~monolith.domain.config.RunConfig` takes
``--config FILE`` and repeatable ``--set key=value`` through
:func:`config_options` and calls :func:`load_run_config`::

    @click.command()
    @config_options
    @click.option("--model-dir")
    def train(config_file, sets, model_dir):
        run = load_run_config(config_file, sets, flags={"model_dir": model_dir})
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from monolith.domain.config import RunConfig
from monolith.domain.config_merge import merge_run_config
from monolith.domain.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML config file.

    Raises:
        ConfigError: The file is missing, unreadable or not valid TOML; the
            message names the file.
    """
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {os.fspath(path)} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {os.fspath(path)} is not valid TOML: {exc}"
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"config file {os.fspath(path)} cannot be read: {exc.strerror}"
        ) from exc


def load_run_config(
    config_file: str | os.PathLike[str] | None = None,
    sets: Sequence[str] = (),
    code_values: Mapping[str, object] | RunConfig | None = None,
    *,
    flags: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunConfig:
    """Merge defaults, ``config_file``, ``MONOLITH_*`` env, CLI and code values.

    Args:
        config_file: A TOML file whose top-level keys are config fields.
        sets: ``--set key=value`` strings.
        code_values: Values a command or a program sets explicitly; they beat
            every other layer. A RunConfig contributes its code-set fields.
        flags: A command's own options by field name (None = not given).
        environ: The environment; ``os.environ`` when omitted.

    Raises:
        ConfigError: The file cannot be read, or a layer has an unknown key or
            a mistyped value.
    """
    document = read_config_file(config_file) if config_file is not None else None
    return merge_run_config(
        file=document,
        file_path=os.fspath(config_file) if config_file is not None else "<config>",
        env=os.environ if environ is None else environ,
        cli_sets=sets,
        cli_flags=flags,
        code=code_values,
    )


def config_options(func: F) -> F:
    """Add ``--config FILE`` and repeatable ``--set KEY=VALUE`` to a command.

    The command receives them as ``config_file`` (a Path or None) and
    ``sets`` (a tuple of strings).
    """
    func = click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help="Set a config field (repeatable); beats the file and MONOLITH_* env.",
    )(func)
    func = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="TOML config file; its top-level keys are config fields.",
    )(func)
    return func
