"""The dense optimizers of :mod:`monolith.domain.dense_optimizer` in PyTorch."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import torch

from monolith.domain import dense_optimizer as rules
from monolith.domain.errors import ComputeError
from monolith.domain.model_spec import DenseOptimizerSpec

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]


class TorchDenseOptimizer:
    """sgd / adagrad / adam with global-norm clipping over named tensors."""

    def __init__(self, spec: DenseOptimizerSpec, params: Mapping[str, torch.Tensor]):
        self._spec = spec
        self._slots = rules.optimizer_slots(spec.kind)
        self._names = list(params)
        self._params = [params[n] for n in self._names]
        self._state: dict[str, list[torch.Tensor]] = {}
        for slot in self._slots:
            fill = rules.ADAGRAD_INITIAL_ACCUMULATOR if slot == "accumulator" else 0.0
            self._state[slot] = [torch.full_like(p, fill) for p in self._params]
        self._step = 0

    @torch.no_grad()
    def apply(self, grads: Sequence[torch.Tensor]) -> None:
        """One update with ``grads`` (same order as the parameters)."""
        clip = self._spec.clip_norm
        if clip > 0:
            norm = torch.sqrt(sum(torch.sum(g * g) for g in grads))  # type: ignore[arg-type]
            scale = float(clip / max(float(norm), clip))
            if scale < 1.0:
                grads = [g * scale for g in grads]
        self._step += 1
        lr = self._spec.learning_rate
        kind = self._spec.kind
        if kind == "sgd":
            for p, g in zip(self._params, grads, strict=True):
                p.sub_(g, alpha=lr)
        elif kind == "adagrad":
            for p, g, acc in zip(
                self._params, grads, self._state["accumulator"], strict=True
            ):
                acc.addcmul_(g, g)
                p.addcdiv_(g, acc.sqrt().add_(rules.EPSILON), value=-lr)
        else:
            b1, b2 = rules.ADAM_BETA1, rules.ADAM_BETA2
            c1 = 1.0 - b1**self._step
            c2 = 1.0 - b2**self._step
            for p, g, m, v in zip(
                self._params, grads, self._state["m"], self._state["v"], strict=True
            ):
                m.mul_(b1).add_(g, alpha=1.0 - b1)
                v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
                denom = (v / c2).sqrt_().add_(rules.EPSILON)
                p.addcdiv_(m, denom, value=-lr / c1)

    def state(self) -> dict[str, Float32Array]:
        out: dict[str, Float32Array] = {
            rules.STEP_KEY: np.array(self._step, np.float32)
        }
        for slot, tensors in self._state.items():
            for name, tensor in zip(self._names, tensors, strict=True):
                out[rules.slot_key(slot, name)] = tensor.detach().numpy().copy()
        return out

    @torch.no_grad()
    def load_state(self, state: Mapping[str, Float32Array]) -> None:
        """Restore slots and step; missing keys are an error."""
        try:
            step = int(round(float(np.asarray(state[rules.STEP_KEY]))))
            for slot, tensors in self._state.items():
                for name, tensor in zip(self._names, tensors, strict=True):
                    value = np.asarray(state[rules.slot_key(slot, name)], np.float32)
                    if value.shape != tuple(tensor.shape):
                        raise ComputeError(
                            f"optimizer state {rules.slot_key(slot, name)!r} has "
                            f"shape {value.shape}, expected {tuple(tensor.shape)}"
                        )
                    tensor.copy_(torch.from_numpy(value.copy()))
        except KeyError as exc:
            raise ComputeError(
                f"state lacks optimizer entry {exc.args[0]!r} of the "
                f"{self._spec.kind} optimizer"
            ) from exc
        self._step = step
