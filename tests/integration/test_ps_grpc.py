"""The gRPC parameter server's transport behaviour: retries, deadlines, shutdown."""

from __future__ import annotations

import pathlib
import socket
import threading
from collections.abc import Iterator

import grpc
import numpy as np
import pytest

from monolith.adapters.parameters.grpc_client import GrpcParameterStore
from monolith.adapters.parameters.grpc_server import PsServerHandle, start_ps_server
from monolith.adapters.parameters.local import LocalParameterStore
from monolith.adapters.storage.local import LocalFileSystem
from monolith.domain.embedding.config import (
    InitializerConfig,
    OptimizerConfig,
    TableConfig,
)
from monolith.domain.errors import ParameterStoreError, ShardUnavailableError
from monolith.domain.model_spec import DenseOptimizerSpec

pytestmark = pytest.mark.integration

TABLE = TableConfig("t", dim=4)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def servers() -> Iterator[list[PsServerHandle]]:
    handles: list[PsServerHandle] = []
    yield handles
    for handle in handles:
        handle.stop(0)


def test_an_unreachable_shard_raises_an_error_naming_its_address() -> None:
    address = f"127.0.0.1:{free_port()}"
    store = GrpcParameterStore([address], deadline=0.5)

    with pytest.raises(ShardUnavailableError, match=address):
        store.lookup("t", np.array([1], dtype=np.int64))
    store.close()


def test_a_shard_that_comes_up_within_the_deadline_is_retried(
    servers: list[PsServerHandle],
) -> None:
    port = free_port()
    store = GrpcParameterStore([f"127.0.0.1:{port}"], deadline=20.0)

    def start() -> None:
        servers.append(start_ps_server(LocalParameterStore(1), "127.0.0.1", port))

    timer = threading.Timer(0.3, start)
    timer.start()
    store.create_tables([TABLE])
    timer.join()

    assert [t.name for t in store.tables()] == ["t"]
    store.close()


def test_the_shutdown_rpc_stops_every_server(servers: list[PsServerHandle]) -> None:
    servers.extend(start_ps_server(LocalParameterStore(1)) for _ in range(2))
    store = GrpcParameterStore([s.address for s in servers], deadline=5.0)
    store.wait_ready(5.0)

    store.shutdown_servers(grace=0.5)

    assert all(s.wait(timeout=10.0) for s in servers)
    probe = GrpcParameterStore([servers[0].address], deadline=0.3)
    with pytest.raises(ShardUnavailableError):
        probe.tables()
    probe.close()
    store.close()


def test_a_request_above_the_message_limit_is_refused(
    servers: list[PsServerHandle],
) -> None:
    servers.append(start_ps_server(LocalParameterStore(1), max_message_bytes=1 << 20))
    store = GrpcParameterStore([servers[0].address], deadline=5.0)
    store.create_tables([TABLE])
    fids = np.arange(200_000, dtype=np.int64)

    with pytest.raises(ParameterStoreError, match="RESOURCE_EXHAUSTED|larger|exceed"):
        store.apply_gradients("t", fids, np.ones((fids.size, 4), np.float32), 1, 0)
    store.close()


def test_a_remote_snapshot_restores_into_an_in_process_store(
    servers: list[PsServerHandle], tmp_path: pathlib.Path
) -> None:
    fs = LocalFileSystem()
    servers.extend(start_ps_server(LocalParameterStore(1, fs=fs)) for _ in range(2))
    remote = GrpcParameterStore([s.address for s in servers], deadline=10.0)
    remote.create_tables([TABLE])
    fids = np.arange(-20, 20, dtype=np.int64)
    remote.apply_gradients("t", fids, np.ones((40, 4), np.float32), 1, 5.0)
    remote.snapshot(str(tmp_path))

    local = LocalParameterStore(3, fs=fs)
    local.create_tables([TABLE])
    local.restore(str(tmp_path))

    assert np.array_equal(local.lookup("t", fids), remote.lookup("t", fids))
    remote.close()


class _LoseFirstReply(grpc.ServerInterceptor):
    """Runs each listed method, then answers its first call UNAVAILABLE: the
    update happened but the client never hears so (a reply lost in transit)."""

    def __init__(self, methods: tuple[str, ...]) -> None:
        self._methods = methods
        self.lost: list[str] = []

    def intercept_service(self, continuation, details):  # type: ignore[no-untyped-def]
        handler = continuation(details)
        name = details.method.rsplit("/", 1)[-1]
        if name not in self._methods:
            return handler
        inner = handler.unary_unary

        def lose_first(request, context):  # type: ignore[no-untyped-def]
            reply = inner(request, context)
            if name not in self.lost:
                self.lost.append(name)
                context.abort(grpc.StatusCode.UNAVAILABLE, "reply lost")
            return reply

        return grpc.unary_unary_rpc_method_handler(
            lose_first,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def test_an_update_retried_after_its_reply_was_lost_is_applied_once(
    servers: list[PsServerHandle],
) -> None:
    config = TableConfig(
        "t",
        dim=2,
        optimizer=OptimizerConfig("sgd", 1.0),
        initializer=InitializerConfig("zeros"),
    )
    lossy = _LoseFirstReply(
        ("ApplyGradients", "ApplyGradientsMany", "PushDenseGradients")
    )
    servers.append(start_ps_server(LocalParameterStore(1), interceptors=[lossy]))
    store = GrpcParameterStore([servers[0].address], deadline=10.0)
    store.create_tables([config])
    store.init_dense({"w": np.zeros(2, np.float32)}, DenseOptimizerSpec("sgd", 1.0))
    fids = np.array([3], dtype=np.int64)

    store.apply_gradients("t", fids, np.ones((1, 2), np.float32), 1, 0.0)
    store.apply_gradients_many({"t": (fids, np.ones((1, 2), np.float32))}, 1, 0.0)
    store.push_dense_gradients({"w": np.ones(2, np.float32)})

    assert lossy.lost == ["ApplyGradients", "ApplyGradientsMany", "PushDenseGradients"]
    assert store.lookup("t", fids).tolist() == [[-2.0, -2.0]]  # one SGD step each
    assert store.pull_dense()["w"].tolist() == [-1.0, -1.0]
    store.apply_gradients("t", fids, np.ones((1, 2), np.float32), 2, 0.0)
    assert store.lookup("t", fids).tolist() == [[-3.0, -3.0]]  # a new call applies
    store.close()
