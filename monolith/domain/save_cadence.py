"""When training writes a checkpoint (decision 3).

A checkpoint is saved every ``save_checkpoints_steps`` steps or every
``save_checkpoints_secs`` seconds (never both), and once when training ends;
never at step 0 and never twice for the same step. The clock is an argument.
"""

from __future__ import annotations

import logging

from monolith.domain.errors import ConfigError

logger = logging.getLogger(__name__)


def validate_cadence(every_steps: int | None, every_secs: float | None) -> None:
    """Check a saving cadence.

    Args:
        every_steps: ``save_checkpoints_steps``, or None when unset.
        every_secs: ``save_checkpoints_secs``, or None when unset.

    Raises:
        ConfigError: both are set, or one is not positive.
    """
    if every_steps is not None and every_secs is not None:
        raise ConfigError(
            "save_checkpoints_steps and save_checkpoints_secs are both set "
            f"({every_steps} and {every_secs}): set at most one of them"
        )
    if every_steps is not None and every_steps <= 0:
        raise ConfigError(
            f"save_checkpoints_steps must be a positive integer, got {every_steps}"
        )
    if every_secs is not None and every_secs <= 0:
        raise ConfigError(
            f"save_checkpoints_secs must be a positive number, got {every_secs}"
        )


def should_save(
    *,
    step: int,
    last_saved_step: int,
    last_saved_time: float,
    now: float,
    every_steps: int | None,
    every_secs: float | None,
    final: bool = False,
) -> bool:
    """Whether to write a checkpoint after ``step``.

    Args:
        step: The global step just completed.
        last_saved_step: The step of the last save, or the step training
            started from (0, or the restored checkpoint's step).
        last_saved_time: When the last save happened, or when training started.
        now: The current time, in the same unit as ``last_saved_time``.
        every_steps: ``save_checkpoints_steps``, or None when unset.
        every_secs: ``save_checkpoints_secs``, or None when unset.
        final: True at the end of training.

    Returns:
        True when a save is due: at the end of training, or when the step or
        time interval has elapsed; False at step 0 and at ``last_saved_step``.

    Raises:
        ConfigError: the cadence is invalid (see :func:`validate_cadence`).
    """
    validate_cadence(every_steps, every_secs)
    if step <= 0 or step == last_saved_step:
        return False
    if final:
        return True
    if every_steps is not None:
        return step - last_saved_step >= every_steps
    if every_secs is not None:
        return now - last_saved_time >= every_secs
    return False
