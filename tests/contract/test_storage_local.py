from __future__ import annotations

from pathlib import Path

import pytest

from monolith.adapters.storage.local import LocalFileSystem
from monolith.ports.storage import FileSystem
from monolith.testing.contracts.storage import StorageContract

pytestmark = pytest.mark.contract


class TestLocalStorage(StorageContract):
    @pytest.fixture
    def fs(self) -> FileSystem:
        return LocalFileSystem()

    @pytest.fixture
    def root(self, tmp_path: Path) -> str:
        return str(tmp_path / "root")


class TestLocalStorageWithFileUris(StorageContract):
    @pytest.fixture
    def fs(self) -> FileSystem:
        return LocalFileSystem()

    @pytest.fixture
    def root(self, tmp_path: Path) -> str:
        return f"file://{tmp_path}/root"
