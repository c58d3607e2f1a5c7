"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def clean_monolith_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hide MONOLITH_* and launcher variables so the env layer is hermetic."""
    prefixes = ("MONOLITH_", "TF_CONFIG", "MLP_", "OMPI_", "HOROVOD_", "BYTEPS_")
    for key in list(os.environ):
        if key.startswith(prefixes) or key in {"RANK", "WORLD_SIZE", "LOCAL_RANK"}:
            monkeypatch.delenv(key, raising=False)
    yield
