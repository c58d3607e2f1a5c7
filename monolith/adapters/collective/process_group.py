"""AllReduce over a torch.distributed process group with the gloo backend."""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Mapping

import numpy as np
import torch
import torch.distributed as dist

from monolith.domain.errors import CollectiveError, UsageError
from monolith.ports.collective import Float32Array, Float64Array

logger = logging.getLogger(__name__)


class GlooAllReduce:
    """The collective port on ``torch.distributed`` with the gloo backend (CPU).

    Backend: torch.distributed, one default process group per process.
    Config: ``rank`` and ``size`` (from the launcher environment, decision
    7), ``init_method`` (``env://`` under torchrun, which sets
    ``MASTER_ADDR``/``MASTER_PORT``; or ``tcp://host:port``) and ``timeout``
    (seconds a collective may wait for its peers before failing).

    Arrays are packed into one flat float32 tensor per call, so a step costs
    one all-reduce whatever the number of dense parameters.

    Known limits: one group per process (torch's default group); a peer that
    dies makes the others fail after ``timeout``, not at once.
    """

    def __init__(
        self,
        rank: int,
        size: int,
        *,
        init_method: str = "env://",
        timeout: float = 300.0,
    ) -> None:
        if not 0 <= rank < size:
            raise UsageError(f"rank must be in [0, {size}), got {rank}")
        self._rank = rank
        self._size = size
        self._lock = threading.Lock()
        self._closed = False
        try:
            dist.init_process_group(
                backend="gloo",
                init_method=init_method,
                rank=rank,
                world_size=size,
                timeout=datetime.timedelta(seconds=timeout),
            )
        except (RuntimeError, ValueError) as exc:
            raise CollectiveError(
                f"cannot join the gloo group as rank {rank} of {size} via "
                f"{init_method}: {exc}"
            ) from exc
        logger.info(
            "allreduce group joined rank=%d size=%d init=%s", rank, size, init_method
        )

    @property
    def rank(self) -> int:
        return self._rank

    @property
    def size(self) -> int:
        return self._size

    def _collective(self, what: str, tensor: torch.Tensor) -> None:
        if self._closed:
            raise CollectiveError(f"cannot {what}: the allreduce group is closed")
        try:
            if what == "broadcast":
                dist.broadcast(tensor, src=0)
            else:
                dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        except (RuntimeError, ValueError) as exc:
            raise CollectiveError(
                f"{what} failed on rank {self._rank} of {self._size}: {exc}"
            ) from exc

    def _packed(
        self, what: str, arrays: Mapping[str, Float32Array]
    ) -> dict[str, Float32Array]:
        names = sorted(arrays)
        parts = [np.asarray(arrays[n], dtype=np.float32) for n in names]
        flat = (
            np.concatenate([p.reshape(-1) for p in parts])
            if parts
            else np.zeros(0, dtype=np.float32)
        )
        tensor = torch.from_numpy(flat.copy())
        self._collective(what, tensor)
        if what == "all_reduce":
            tensor /= self._size
        values = tensor.numpy()
        out: dict[str, Float32Array] = {}
        offset = 0
        for name, part in zip(names, parts, strict=True):
            out[name] = values[offset : offset + part.size].reshape(part.shape).copy()
            offset += part.size
        return out

    def mean(self, arrays: Mapping[str, Float32Array]) -> dict[str, Float32Array]:
        return self._packed("all_reduce", arrays)

    def broadcast(self, arrays: Mapping[str, Float32Array]) -> dict[str, Float32Array]:
        return self._packed("broadcast", arrays)

    def sum(self, values: Float64Array) -> Float64Array:
        tensor = torch.from_numpy(np.asarray(values, dtype=np.float64).copy())
        self._collective("all_reduce", tensor)
        result: Float64Array = tensor.numpy().copy()
        return result

    def barrier(self) -> None:
        self.sum(np.zeros(1, dtype=np.float64))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if dist.is_initialized():
            dist.destroy_process_group()
        logger.info("allreduce group left rank=%d", self._rank)
