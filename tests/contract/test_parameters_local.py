"""LocalParameterStore passes the parameter-store contract."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.storage.local import LocalFileSystem
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.ports.parameters import ParameterStore
from monolith.testing.contracts.parameters import ParameterStoreContract, StoreFactory

pytestmark = pytest.mark.contract


class TestLocalParameterStoreOnDisk(ParameterStoreContract):
    @pytest.fixture
    def make_store(self) -> Iterator[StoreFactory]:
        fs = LocalFileSystem()
        made: list[ParameterStore] = []

        def make(shards: int) -> ParameterStore:
            made.append(LocalParameterStore(shards, fs=fs))
            return made[-1]

        yield make
        for store in made:
            store.close()

    @pytest.fixture
    def snapshot_dir(self, tmp_path: pathlib.Path) -> str:
        return str(tmp_path / "snapshot")


class TestLocalParameterStoreInMemory(ParameterStoreContract):
    @pytest.fixture
    def make_store(self) -> StoreFactory:
        fs = InMemoryFileSystem()
        return lambda shards: LocalParameterStore(shards, fs=fs)

    @pytest.fixture
    def snapshot_dir(self) -> str:
        return "memory://snapshots/one"
