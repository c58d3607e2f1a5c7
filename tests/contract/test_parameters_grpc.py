"""GrpcParameterStore against real parameter servers on loopback passes the contract."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from monolith.adapters.parameters.grpc_client import GrpcParameterStore
from monolith.adapters.parameters.grpc_server import PsServerHandle, start_ps_server
from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.storage.local import LocalFileSystem
from monolith.ports.parameters import ParameterStore
from monolith.testing.contracts.parameters import ParameterStoreContract, StoreFactory

pytestmark = pytest.mark.contract


class TestGrpcParameterStore(ParameterStoreContract):
    @pytest.fixture
    def make_store(self) -> Iterator[StoreFactory]:
        fs = LocalFileSystem()
        servers: list[PsServerHandle] = []
        clients: list[GrpcParameterStore] = []

        def make(shards: int) -> ParameterStore:
            handles = [
                start_ps_server(LocalParameterStore(1, fs=fs), "127.0.0.1", 0)
                for _ in range(shards)
            ]
            servers.extend(handles)
            client = GrpcParameterStore([h.address for h in handles], deadline=20.0)
            client.wait_ready(10.0)
            clients.append(client)
            return client

        yield make
        for client in clients:
            client.close()
        for server in servers:
            server.stop(0)

    @pytest.fixture
    def snapshot_dir(self, tmp_path: pathlib.Path) -> str:
        return str(tmp_path / "snapshot")
