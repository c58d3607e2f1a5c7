from __future__ import annotations

import pytest

from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.ports.storage import FileSystem
from monolith.testing.contracts.storage import StorageContract

pytestmark = pytest.mark.contract


class TestInMemoryStorage(StorageContract):
    @pytest.fixture
    def fs(self) -> FileSystem:
        return InMemoryFileSystem()

    @pytest.fixture
    def root(self) -> str:
        return "memory://jobs/test-root"
