"""Initial dense-tower weights, generated in numpy so every backend starts equal.

Both compute backends load these arrays instead of using their framework's
initialisers; the same spec and seed therefore give bit-identical starting
parameters on PyTorch and TensorFlow.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monolith.domain.tower_plan import TowerPlan

Float32Array = npt.NDArray[np.float32]


def init_tower_parameters(plan: TowerPlan, seed: int) -> dict[str, Float32Array]:
    """Glorot-uniform kernels and zero biases for ``plan``, from ``seed``.

    Parameters are drawn in the order of :meth:`TowerPlan.parameter_shapes`
    from one ``numpy.random.default_rng(seed)`` stream.
    """
    rng = np.random.default_rng(seed)
    params: dict[str, Float32Array] = {}
    for name, shape in plan.parameter_shapes().items():
        if len(shape) == 2:
            fan_in, fan_out = shape
            limit = float(np.sqrt(6.0 / (fan_in + fan_out)))
            params[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        else:
            params[name] = np.zeros(shape, dtype=np.float32)
    return params
