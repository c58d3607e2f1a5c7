"""The backend-neutral layout of a built-in dense tower.

:func:`plan_tower` checks a :class:`ModelSpec` and derives everything both
compute backends need to run the same architecture with the same parameters:
the role of each slot, layer widths, and the ordered parameter names and
shapes. Backends mirror the forward pass described here; the names and shapes
come only from this module, so a state written by one backend loads into the
other.

Forward pass (``B`` examples, ``w`` = table width, ``d`` = embedding dim):

1. Each ``sum``/``mean`` slot is pooled to ``[B, w]``; each ``sequence`` slot
   is padded to ``[B, max_len, w]`` with a ``[B, max_len]`` mask (the fids stay
   in order; a longer sequence keeps its last ``max_len`` fids).
2. For a table with ``has_bias``, column 0 is a first-order weight: pooled
   slots add it to the logit; the embedding is columns ``1:``. Sequence slots
   ignore the bias column.
3. ``mlp``: sequence slots are reduced by a masked mean; the deep input is the
   concatenation of every slot's embedding and the dense features.
   ``deepfm`` adds the FM second-order term over all slots (same dim needed).
   ``din``: softmax attention over the sequence slot, scored by an MLP on
   ``[h, t, h - t, h * t]`` with ``t`` the target slot; the attended interest
   replaces the sequence slot in the deep input. ``dien``: a GRU (hidden
   ``gru_hidden``) runs over the sequence; the target is projected to
   ``gru_hidden``; attention scores the GRU states; ``evolution="augru"`` runs
   a second, attention-gated GRU whose last state is the interest,
   ``evolution="gru"`` takes the attention-weighted sum of the states.
4. The deep input goes through ``hidden`` layers with ``activation`` and a
   final linear layer to one logit.

GRU cell (DIEN convention, reset applied after the recurrent matmul):
``u, r = sigmoid(x Wx_u + h Wh_u + b_u), sigmoid(x Wx_r + h Wh_r + b_r)``,
``n = tanh(x Wx_n + b_n + r * (h Wh_n))``, ``h' = (1 - u) h + u n``; AUGRU
scales ``u`` by the attention weight; a masked step keeps ``h``.
"""

from __future__ import annotations

import logging

import attrs

from monolith.domain.errors import ComputeError
from monolith.domain.model_spec import ModelSpec, Pooling

logger = logging.getLogger(__name__)

TOWER_KINDS = ("mlp", "deepfm", "din", "dien")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "linear")
EVOLUTIONS = ("augru", "gru")
MASK_SUFFIX = "/mask"
"""Key suffix of a sequence slot's mask in the features passed to custom towers."""


@attrs.frozen
class SlotPlan:
    """One slot as the tower sees it."""

    name: str
    width: int
    dim: int
    has_bias: bool
    pooling: Pooling
    max_len: int

    @property
    def offset(self) -> int:
        """First embedding column (1 when column 0 is the bias)."""
        return 1 if self.has_bias else 0


@attrs.frozen
class TowerPlan:
    """The checked structure of a built-in tower; see the module docstring."""

    kind: str
    slots: tuple[SlotPlan, ...]
    dense_features: int
    hidden: tuple[int, ...]
    activation: str
    target_slot: str | None = None
    sequence_slot: str | None = None
    attention_hidden: tuple[int, ...] = ()
    gru_hidden: int = 0
    evolution: str = "augru"

    def slot(self, name: str) -> SlotPlan:
        for slot in self.slots:
            if slot.name == name:
                return slot
        raise ComputeError(f"tower has no slot {name!r}")

    @property
    def deep_slots(self) -> tuple[SlotPlan, ...]:
        """Slots whose embedding enters the deep input directly, in order."""
        return tuple(s for s in self.slots if s.name != self.sequence_slot)

    @property
    def interest_width(self) -> int:
        """Width of the attended interest vector (0 for mlp/deepfm)."""
        if self.kind == "din":
            return self.slot(str(self.sequence_slot)).dim
        if self.kind == "dien":
            return self.gru_hidden
        return 0

    @property
    def deep_input(self) -> int:
        """Width of the deep (MLP) input."""
        slots = sum(s.dim for s in self.deep_slots)
        return slots + self.interest_width + self.dense_features

    @property
    def attention_input(self) -> int:
        """Width of one attention-MLP input row, ``4 x`` the compared width."""
        if self.kind == "din":
            return 4 * self.slot(str(self.sequence_slot)).dim
        if self.kind == "dien":
            return 4 * self.gru_hidden
        return 0

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every dense parameter's name and shape, in a fixed order."""
        shapes: dict[str, tuple[int, ...]] = {}
        if self.kind == "dien":
            seq_dim = self.slot(str(self.sequence_slot)).dim
            target_dim = self.slot(str(self.target_slot)).dim
            hidden = self.gru_hidden
            _gru(shapes, "gru", seq_dim, hidden)
            shapes["target_proj.kernel"] = (target_dim, hidden)
            if self.evolution == "augru":
                _gru(shapes, "augru", hidden, hidden)
        if self.kind in ("din", "dien"):
            _dense_stack(
                shapes, "attention", self.attention_input, self.attention_hidden
            )
        _dense_stack(shapes, "mlp", self.deep_input, self.hidden, out="out")
        return shapes


def _gru(
    shapes: dict[str, tuple[int, ...]], prefix: str, inp: int, hidden: int
) -> None:
    shapes[f"{prefix}.wx"] = (inp, 3 * hidden)
    shapes[f"{prefix}.wh"] = (hidden, 3 * hidden)
    shapes[f"{prefix}.b"] = (3 * hidden,)


def _dense_stack(
    shapes: dict[str, tuple[int, ...]],
    prefix: str,
    inp: int,
    hidden: tuple[int, ...],
    out: str | None = None,
) -> None:
    width = inp
    for i, units in enumerate(hidden):
        shapes[f"{prefix}.{i}.kernel"] = (width, units)
        shapes[f"{prefix}.{i}.bias"] = (units,)
        width = units
    head = out or f"{prefix}.out"
    shapes[f"{head}.kernel"] = (width, 1)
    shapes[f"{head}.bias"] = (1,)


def plan_tower(spec: ModelSpec) -> TowerPlan:
    """Check ``spec`` and lay out its tower.

    Raises:
        ComputeError: unknown tower kind, activation or pooling; a slot naming
            an unknown table; missing or inconsistent ``target_slot`` /
            ``sequence_slot``; FM slots of different dims; bad sizes.
    """
    tower = spec.tower
    if tower.kind not in TOWER_KINDS:
        raise ComputeError(
            f"unknown tower kind {tower.kind!r} in model {spec.name!r}; "
            f"known kinds: {', '.join(TOWER_KINDS)}"
        )
    if tower.activation not in ACTIVATIONS:
        raise ComputeError(
            f"unknown activation {tower.activation!r}; known: {', '.join(ACTIVATIONS)}"
        )
    if not spec.slots:
        raise ComputeError(f"model {spec.name!r} has no slots; a tower needs one")
    if any(h <= 0 for h in tower.hidden) or spec.dense_features < 0:
        raise ComputeError(
            f"hidden sizes {tower.hidden!r} must be positive and dense_features "
            f"{spec.dense_features} non-negative"
        )
    slots = plan_slots(spec)
    plan = TowerPlan(
        kind=tower.kind,
        slots=slots,
        dense_features=spec.dense_features,
        hidden=tuple(tower.hidden),
        activation=tower.activation,
    )
    if tower.kind == "deepfm":
        dims = {s.dim for s in slots}
        if len(dims) != 1:
            raise ComputeError(
                f"deepfm needs every slot to have the same dim for the FM term, "
                f"got dims {sorted(dims)}"
            )
    if tower.kind in ("din", "dien"):
        plan = _attention_plan(spec, plan)
    return plan


def plan_slots(spec: ModelSpec) -> tuple[SlotPlan, ...]:
    """The slots of ``spec`` with their table widths (used by custom towers too).

    Raises:
        ComputeError: a slot names an unknown table, has an unknown pooling,
            a sequence slot has no ``max_len``, or two slots share a name.
    """
    slots = tuple(_slot_plan(spec, i) for i in range(len(spec.slots)))
    names = [s.name for s in slots]
    if len(set(names)) != len(names):
        raise ComputeError(f"slot names must be unique, got {names!r}")
    return slots


def _slot_plan(spec: ModelSpec, i: int) -> SlotPlan:
    slot = spec.slots[i]
    try:
        table = spec.table(slot.table)
    except KeyError as exc:
        raise ComputeError(f"slot {slot.name!r}: {exc.args[0]}") from exc
    if slot.pooling not in ("sum", "mean", "sequence"):
        raise ComputeError(
            f"slot {slot.name!r} has pooling {slot.pooling!r}; "
            "expected sum, mean or sequence"
        )
    if slot.pooling == "sequence" and slot.max_len <= 0:
        raise ComputeError(
            f"sequence slot {slot.name!r} needs max_len > 0, got {slot.max_len}"
        )
    return SlotPlan(
        name=slot.name,
        width=table.width,
        dim=table.dim,
        has_bias=table.has_bias,
        pooling=slot.pooling,
        max_len=slot.max_len if slot.pooling == "sequence" else 0,
    )


def _attention_plan(spec: ModelSpec, plan: TowerPlan) -> TowerPlan:
    tower = spec.tower
    target = tower.option("target_slot")
    sequence = tower.option("sequence_slot")
    names = [s.name for s in plan.slots]
    if target not in names or sequence not in names:
        raise ComputeError(
            f"{tower.kind} needs options target_slot and sequence_slot naming "
            f"slots of the model; got target_slot={target!r} "
            f"sequence_slot={sequence!r}, slots: {', '.join(names)}"
        )
    target_plan = plan.slot(str(target))
    sequence_plan = plan.slot(str(sequence))
    if sequence_plan.pooling != "sequence" or target_plan.pooling == "sequence":
        raise ComputeError(
            f"{tower.kind}: sequence_slot {sequence!r} must use pooling "
            f"'sequence' and target_slot {target!r} sum or mean"
        )
    attention_hidden = tuple(
        _as_int(h) for h in _as_tuple(tower.option("attention_hidden", (32,)))
    )
    gru_hidden = 0
    evolution = "augru"
    if tower.kind == "din" and target_plan.dim != sequence_plan.dim:
        raise ComputeError(
            f"din compares target {target!r} (dim {target_plan.dim}) with sequence "
            f"{sequence!r} (dim {sequence_plan.dim}); the dims must match"
        )
    if tower.kind == "dien":
        gru_hidden = _as_int(tower.option("gru_hidden", sequence_plan.dim))
        evolution = str(tower.option("evolution", "augru"))
        if gru_hidden <= 0 or evolution not in EVOLUTIONS:
            raise ComputeError(
                f"dien needs gru_hidden > 0 and evolution in {EVOLUTIONS}; got "
                f"gru_hidden={gru_hidden} evolution={evolution!r}"
            )
    if any(h <= 0 for h in attention_hidden):
        raise ComputeError(f"attention_hidden {attention_hidden!r} must be positive")
    return attrs.evolve(
        plan,
        target_slot=str(target),
        sequence_slot=str(sequence),
        attention_hidden=attention_hidden,
        gru_hidden=gru_hidden,
        evolution=evolution,
    )


def _as_tuple(value: object) -> tuple[object, ...]:
    if isinstance(value, list | tuple):
        return tuple(value)
    return (value,)


def _as_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ComputeError(f"expected an integer option, got {value!r}")
    return int(value)
