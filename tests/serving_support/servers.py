"""Exports and in-process servers for serving tests."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import numpy as np

from monolith.app.export.exporter import ExportRequest, ExportResult
from monolith.app.export.wiring import run_export
from monolith.domain.batch import RaggedFids
from monolith.domain.serving import PredictRequest
from tests.serving_support.checkpoints import write_checkpoint


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_export(
    root: str, step: int = 10, version: int | None = None, bits: int = 32, seed: int = 0
) -> ExportResult:
    model_dir = f"{root}/model-{step}-{seed}"
    write_checkpoint(model_dir, step=step, seed=seed)
    return run_export(
        ExportRequest(
            model_dir, f"{root}/exports", model_version=version, quantize_bits=bits
        )
    )


def sample_request(batch: int = 2) -> PredictRequest:
    users = [[-50, -43], [999]] * (batch // 2) + [[-36]] * (batch % 2)
    items = [[-36], []] * (batch // 2) + [[-29, -22]] * (batch % 2)
    return PredictRequest(
        slots={
            "user_id": RaggedFids.from_lists(users),
            "item_id": RaggedFids.from_lists(items),
        },
        dense=np.linspace(-1, 1, batch * 3, dtype=np.float32),
        batch_size=batch,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the wait")
        time.sleep(0.05)
