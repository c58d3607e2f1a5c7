"""The PyTorch compute backend (``--backend torch``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from monolith.adapters.compute.torch_optimizer import TorchDenseOptimizer
from monolith.adapters.compute.torch_tower import pad_slot, pool_slot, tower_logits
from monolith.domain import dense_optimizer as rules
from monolith.domain.errors import ComputeError
from monolith.domain.model_spec import ModelSpec
from monolith.domain.sequence_layout import layout_sequence
from monolith.domain.tower_init import init_tower_parameters
from monolith.domain.tower_plan import (
    MASK_SUFFIX,
    SlotPlan,
    TowerPlan,
    plan_slots,
    plan_tower,
)
from monolith.ports.compute import StepResult, TowerInputs

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]
ModuleFactory = Callable[[ModelSpec], torch.nn.Module]
"""Builds a custom tower ``module(features, dense) -> logits``; see docs/compute.md."""


class TorchCompute:
    """Dense tower on PyTorch (CPU), fed gathered embedding rows.

    Each slot's unique rows become a leaf tensor; ``F.embedding_bag`` pools
    them (sum/mean, ``include_last_offset`` over ``row_splits``) and sequence
    slots are padded by :func:`~monolith.domain.sequence_layout.layout_sequence`.
    ``torch.autograd.grad`` then returns one gradient per unique row, so no
    table is ever held here. Built-in towers (``mlp``, ``deepfm``, ``din``,
    ``dien``) are functional code over named parameters initialised by
    :func:`~monolith.domain.tower_init.init_tower_parameters`, identical to
    :class:`~monolith.adapters.compute.tf_compute.TfCompute`.

    Args:
        module_factory: Optional ``(spec) -> torch.nn.Module`` replacing the
            built-in tower. The module is called as ``module(features, dense)``
            where ``features`` maps each slot to its pooled ``[B, w]`` tensor
            (sequence slots: ``[B, L, w]`` plus ``"<slot>/mask"``) and returns
            logits ``[B]`` or ``[B, 1]``. It is built under
            ``torch.manual_seed(spec.seed)`` (global RNG state is preserved);
            parameter names are ``module.named_parameters()``.
        num_threads: When given, ``torch.set_num_threads`` at build (global).

    Warning:
        One thread at a time per instance. Parameters are float32 on CPU.
    """

    name = "torch"

    def __init__(
        self,
        module_factory: ModuleFactory | None = None,
        num_threads: int | None = None,
    ) -> None:
        self._factory = module_factory
        self._num_threads = num_threads
        self._spec: ModelSpec | None = None
        self._plan: TowerPlan | None = None
        self._slots: tuple[SlotPlan, ...] = ()
        self._module: torch.nn.Module | None = None
        self._names: list[str] = []
        self._params: dict[str, torch.Tensor] = {}
        self._optimizer: TorchDenseOptimizer | None = None

    def build(self, spec: ModelSpec) -> None:
        if self._num_threads is not None:
            torch.set_num_threads(self._num_threads)
        self._slots = plan_slots(spec)
        if self._factory is None:
            self._plan = plan_tower(spec)
            initial = init_tower_parameters(self._plan, spec.seed)
            self._params = {
                name: torch.from_numpy(value).requires_grad_(True)
                for name, value in initial.items()
            }
            self._module = None
        else:
            self._plan = None
            with torch.random.fork_rng():
                torch.manual_seed(spec.seed)
                module = self._factory(spec)
            if not isinstance(module, torch.nn.Module):
                raise ComputeError(
                    f"module_factory returned {type(module).__name__}, expected a "
                    "torch.nn.Module"
                )
            self._module = module.float()
            self._params = dict(self._module.named_parameters())
        self._names = list(self._params)
        rules.check_parameter_names(self._names)
        self._spec = spec
        self._optimizer = TorchDenseOptimizer(spec.dense_optimizer, self._params)
        logger.info(
            "torch tower built model=%s kind=%s parameters=%d",
            spec.name,
            "custom" if self._factory else spec.tower.kind,
            sum(int(p.numel()) for p in self._params.values()),
        )

    def predict(self, inputs: TowerInputs) -> Float32Array:
        spec = self._built()
        with torch.no_grad():
            features, _ = self._features(inputs, requires_grad=False)
            logits = self._logits(features, _tensor(inputs.dense, np.float32))
            scores = torch.sigmoid(logits) if spec.loss == "bce" else logits
        return _float32(scores)

    def compute_gradients(
        self, inputs: TowerInputs, labels: Float32Array
    ) -> StepResult:
        spec = self._built()
        features, rows = self._features(inputs, requires_grad=True)
        logits = self._logits(features, _tensor(inputs.dense, np.float32))
        target = _tensor(labels, np.float32).reshape(-1)
        if target.shape[0] != logits.shape[0]:
            raise ComputeError(
                f"labels have {target.shape[0]} entries, the batch has "
                f"{logits.shape[0]}"
            )
        if spec.loss == "bce":
            loss = F.binary_cross_entropy_with_logits(logits, target)
        else:
            loss = torch.mean((logits - target) ** 2)
        params = [self._params[n] for n in self._names]
        grads = torch.autograd.grad(loss, [*params, *rows.values()], allow_unused=True)
        dense_grads = {
            name: _grad(grad, self._params[name])
            for name, grad in zip(self._names, grads[: len(params)], strict=True)
        }
        slot_grads = {
            name: _grad(grad, rows[name])
            for name, grad in zip(rows, grads[len(params) :], strict=True)
        }
        with torch.no_grad():
            scores = torch.sigmoid(logits) if spec.loss == "bce" else logits
        return StepResult(
            loss=float(loss.detach()),
            predictions=_float32(scores.detach()),
            dense_grads=dense_grads,
            slot_grads=slot_grads,
        )

    def apply_dense_gradients(self, grads: Mapping[str, Float32Array]) -> None:
        optimizer = self._built_optimizer()
        missing = [n for n in self._names if n not in grads]
        if missing:
            raise ComputeError(f"dense gradients lack parameters {missing!r}")
        optimizer.apply([_tensor(grads[n], np.float32) for n in self._names])

    def parameters(self) -> dict[str, Float32Array]:
        self._built()
        return {n: p.detach().numpy().copy() for n, p in self._params.items()}

    def load_parameters(self, params: Mapping[str, Float32Array]) -> None:
        self._built()
        _check_names(self._names, params, "parameters")
        with torch.no_grad():
            for name in self._names:
                target = self._params[name]
                value = np.asarray(params[name], dtype=np.float32)
                if value.shape != tuple(target.shape):
                    raise ComputeError(
                        f"parameter {name!r} has shape {value.shape}, the model "
                        f"expects {tuple(target.shape)}"
                    )
                target.copy_(torch.from_numpy(value.copy()))

    def state(self) -> dict[str, Float32Array]:
        state = self.parameters()
        state.update(self._built_optimizer().state())
        return state

    def load_state(self, state: Mapping[str, Float32Array]) -> None:
        optimizer = self._built_optimizer()
        self.load_parameters(
            {k: v for k, v in state.items() if not k.startswith(rules.STATE_PREFIX)}
        )
        optimizer.load_state(state)

    def _built(self) -> ModelSpec:
        if self._spec is None:
            raise ComputeError("the torch backend is not built; call build(spec) first")
        return self._spec

    def _built_optimizer(self) -> TorchDenseOptimizer:
        self._built()
        if self._optimizer is None:
            raise ComputeError("the backend has no optimizer; call build(spec)")
        return self._optimizer

    def _features(
        self, inputs: TowerInputs, requires_grad: bool
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        features: dict[str, torch.Tensor] = {}
        rows: dict[str, torch.Tensor] = {}
        for slot in self._slots:
            slot_input = inputs.slots.get(slot.name)
            if slot_input is None:
                raise ComputeError(
                    f"inputs lack slot {slot.name!r}; the model reads slots "
                    f"{', '.join(s.name for s in self._slots)}"
                )
            table_rows = _tensor(slot_input.rows, np.float32)
            if table_rows.ndim != 2 or table_rows.shape[1] != slot.width:
                raise ComputeError(
                    f"slot {slot.name!r} rows have shape {tuple(table_rows.shape)}, "
                    f"expected [U, {slot.width}]"
                )
            if requires_grad:
                table_rows.requires_grad_(True)
            rows[slot.name] = table_rows
            index = _tensor(slot_input.index, np.int64)
            if slot.pooling == "sequence":
                layout = layout_sequence(slot_input.row_splits, slot.max_len)
                mask = torch.from_numpy(layout.mask)
                features[slot.name] = pad_slot(
                    table_rows,
                    index,
                    torch.from_numpy(layout.source),
                    torch.from_numpy(layout.target),
                    mask,
                )
                features[slot.name + MASK_SUFFIX] = mask
            else:
                splits = _tensor(slot_input.row_splits, np.int64)
                features[slot.name] = pool_slot(slot, table_rows, index, splits)
        return features, rows

    def _logits(
        self, features: Mapping[str, torch.Tensor], dense: torch.Tensor
    ) -> torch.Tensor:
        if self._module is not None:
            logits: torch.Tensor = self._module(features, dense)
            return logits.reshape(-1)
        assert self._plan is not None
        return tower_logits(self._plan, self._params, features, dense)


def _tensor(array: npt.ArrayLike, dtype: type[np.generic]) -> torch.Tensor:
    """A zero-copy tensor over ``array`` when its dtype and layout allow."""
    value = np.ascontiguousarray(array, dtype=dtype)
    if not value.flags.writeable:
        value = value.copy()
    return torch.from_numpy(value)


def _float32(tensor: torch.Tensor) -> Float32Array:
    return np.asarray(tensor.detach().numpy(), dtype=np.float32)


def _grad(grad: torch.Tensor | None, like: torch.Tensor) -> Float32Array:
    if grad is None:
        return np.zeros(tuple(like.shape), dtype=np.float32)
    return np.asarray(grad.numpy(), dtype=np.float32)


def _check_names(expected: list[str], given: Mapping[str, object], what: str) -> None:
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    if missing or extra:
        raise ComputeError(
            f"{what} do not fit the model: missing {missing!r}, unexpected {extra!r}"
        )
