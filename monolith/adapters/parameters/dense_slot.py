"""The dense parameters a parameter store holds in async PS training."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

import numpy as np

from monolith.domain.dense_step import DenseOptimizer
from monolith.domain.errors import ParameterStoreError
from monolith.domain.model_spec import DenseOptimizerSpec
from monolith.ports.parameters import Float32Array

logger = logging.getLogger(__name__)


class DenseSlot:
    """Dense parameters and their optimizer behind one lock; empty until
    :meth:`install` (the store's ``init_dense``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dense: DenseOptimizer | None = None

    def install(
        self, params: Mapping[str, Float32Array], optimizer: DenseOptimizerSpec
    ) -> None:
        """First call wins; a later one must name the same parameters, shapes
        and optimizer.

        Raises:
            ParameterStoreError: A later call differs from the first.
        """
        with self._lock:
            if self._dense is not None:
                same = set(self._dense.params) == set(params) and all(
                    self._dense.params[n].shape == np.shape(params[n]) for n in params
                )
                if not same or self._dense.spec != optimizer:
                    raise ParameterStoreError(
                        "dense parameters exist with other names, shapes or "
                        f"optimizer: have {sorted(self._dense.params)} with "
                        f"{self._dense.spec!r}, got {sorted(params)} with {optimizer!r}"
                    )
                return
            self._dense = DenseOptimizer(params, optimizer)
            logger.info(
                "dense parameters installed count=%d optimizer=%s",
                len(params),
                optimizer.kind,
            )

    def _required(self) -> DenseOptimizer:
        if self._dense is None:
            raise ParameterStoreError(
                "no dense parameters: call init_dense before pull or push"
            )
        return self._dense

    def pull(self) -> dict[str, Float32Array]:
        """Copies of the current parameters."""
        with self._lock:
            dense = self._required()
            return {name: value.copy() for name, value in dense.params.items()}

    def push(self, grads: Mapping[str, Float32Array]) -> None:
        """One optimizer step with ``grads``."""
        with self._lock:
            self._required().apply(grads)

    def state_arrays(self) -> dict[str, Float32Array] | None:
        """Parameters and optimizer state to save, or None when not installed."""
        with self._lock:
            return None if self._dense is None else self._dense.state_arrays()

    def load_state(self, state: Mapping[str, Float32Array]) -> bool:
        """Load saved state; False (nothing loaded) when not installed."""
        with self._lock:
            if self._dense is None:
                return False
            self._dense.load_state(state)
            return True
