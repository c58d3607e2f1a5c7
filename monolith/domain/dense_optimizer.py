"""The dense optimizers both compute backends implement, and their state names.

The update rules (``g`` already clipped, ``t`` the step after increment):

- ``sgd``: ``p -= lr * g``
- ``adagrad``: ``acc += g**2``; ``p -= lr * g / (sqrt(acc) + EPSILON)``,
  ``acc`` starting at :data:`ADAGRAD_INITIAL_ACCUMULATOR`
- ``adam``: ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g**2``;
  ``p -= lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + EPSILON)``

Clipping: when ``clip_norm > 0`` and the global L2 norm of all gradients
exceeds it, every gradient is scaled by ``clip_norm / norm``.

State keys are shared, so a state from one backend loads into the other:
``optimizer.step`` (shape ``()``) and ``optimizer.<slot>.<parameter name>``.
"""

from __future__ import annotations

from monolith.domain.errors import ComputeError

ADAGRAD_INITIAL_ACCUMULATOR = 0.1
EPSILON = 1e-7
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
STATE_PREFIX = "optimizer."
STEP_KEY = "optimizer.step"

_SLOTS = {"sgd": (), "adagrad": ("accumulator",), "adam": ("m", "v")}


def optimizer_slots(kind: str) -> tuple[str, ...]:
    """Per-parameter state slots of optimizer ``kind``.

    Raises:
        ComputeError: ``kind`` is not sgd, adagrad or adam.
    """
    if kind not in _SLOTS:
        raise ComputeError(
            f"unknown dense optimizer {kind!r}; known: {', '.join(_SLOTS)}"
        )
    return _SLOTS[kind]


def slot_key(slot: str, parameter: str) -> str:
    """The state key of ``slot`` for ``parameter``."""
    return f"{STATE_PREFIX}{slot}.{parameter}"


def check_parameter_names(names: list[str]) -> None:
    """Parameter names must not collide with optimizer state keys.

    Raises:
        ComputeError: a name starts with ``optimizer.``.
    """
    clashing = [n for n in names if n.startswith(STATE_PREFIX)]
    if clashing:
        raise ComputeError(
            f"parameter names {clashing!r} start with {STATE_PREFIX!r}, which is "
            "reserved for optimizer state; rename the module attributes"
        )
