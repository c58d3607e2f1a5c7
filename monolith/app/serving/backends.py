"""Compute backends by the name a checkpoint or export records (lazy imports)."""

from __future__ import annotations

from monolith.domain.errors import ComputeError
from monolith.ports.compute import ComputeBackend

KNOWN_BACKENDS = ("torch", "tf")


def make_compute(name: str) -> ComputeBackend:
    """A fresh backend for ``name`` (``torch`` or ``tf``); loads its library now."""
    if name == "torch":
        from monolith.adapters.compute.torch_compute import TorchCompute

        return TorchCompute(num_threads=1)
    if name in ("tf", "tensorflow"):
        from monolith.adapters.compute.tf_compute import TfCompute

        return TfCompute()
    raise ComputeError(
        f"unknown compute backend {name!r}; known backends: {', '.join(KNOWN_BACKENDS)}"
    )
