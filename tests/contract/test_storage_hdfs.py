"""The storage contract against WebHDFS: the test server, or a real cluster.

Set MONOLITH_TEST_WEBHDFS_URL (``hdfs://namenode:9870/some/scratch/dir``,
optionally with MONOLITH_TEST_WEBHDFS_USER) to run the suite against a real
cluster as well. It is read at import time because the autouse fixture clears
MONOLITH_* variables before each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monolith.adapters.storage.hdfs import WebHdfsFileSystem
from monolith.domain.errors import StorageError
from monolith.domain.storage_uri import parse_uri
from monolith.ports.storage import FileSystem
from monolith.testing.contracts.storage import StorageContract
from monolith.testing.webhdfs_server import WebHdfsTestServer

pytestmark = pytest.mark.contract

REAL_URL = os.environ.get("MONOLITH_TEST_WEBHDFS_URL", "")
REAL_USER = os.environ.get("MONOLITH_TEST_WEBHDFS_USER") or None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebHdfsTestServer]:
    with WebHdfsTestServer(str(tmp_path / "hdfs-root")) as running:
        yield running


class TestWebHdfsStorageOnTestServer(StorageContract):
    replace_may_vanish = True

    @pytest.fixture
    def fs(self, server: WebHdfsTestServer) -> FileSystem:
        return WebHdfsFileSystem(server.authority, user="tester")

    @pytest.fixture
    def root(self, server: WebHdfsTestServer) -> str:
        return f"hdfs://{server.authority}/user/tester/run"


@pytest.mark.skipif(not REAL_URL, reason="MONOLITH_TEST_WEBHDFS_URL is not set")
class TestWebHdfsStorageOnRealCluster(StorageContract):
    replace_may_vanish = True

    @pytest.fixture
    def fs(self) -> FileSystem:
        return WebHdfsFileSystem(parse_uri(REAL_URL).authority, user=REAL_USER)

    @pytest.fixture
    def root(self, fs: FileSystem) -> Iterator[str]:
        base = f"{REAL_URL.rstrip('/')}/monolith-contract-{uuid.uuid4().hex[:10]}"
        yield base
        if fs.exists(base):
            fs.rmtree(base)


def test_requests_carry_the_configured_user(server: WebHdfsTestServer) -> None:
    fs = WebHdfsFileSystem(server.authority, user="alice")

    fs.makedirs(f"hdfs://{server.authority}/a")

    assert server.users and set(server.users) == {"alice"}


def test_a_delegation_token_authenticates_every_call(tmp_path: Path) -> None:
    with WebHdfsTestServer(str(tmp_path / "root"), require_token="tok-123") as server:
        fs = WebHdfsFileSystem(server.authority, token="tok-123")
        path = f"hdfs://{server.authority}/secure/file"

        with fs.open(path, "wb") as handle:
            handle.write(b"secret")

        with fs.open(path, "rb") as handle:
            assert handle.read() == b"secret"


def test_a_wrong_token_is_a_storage_error(tmp_path: Path) -> None:
    with WebHdfsTestServer(str(tmp_path / "root"), require_token="right") as server:
        fs = WebHdfsFileSystem(server.authority, token="wrong")

        with pytest.raises(StorageError, match="delegation token"):
            fs.makedirs(f"hdfs://{server.authority}/x")


def test_writes_use_the_two_step_create_redirect(server: WebHdfsTestServer) -> None:
    fs = WebHdfsFileSystem(server.authority, user="u")

    with fs.open(f"hdfs://{server.authority}/d/f", "wb") as handle:
        handle.write(b"abc")

    assert "CREATE" in server.ops
    assert (Path(server.root) / "d" / "f").read_bytes() == b"abc"


def test_user_and_token_together_are_refused(server: WebHdfsTestServer) -> None:
    with pytest.raises(ValueError, match="not both"):
        WebHdfsFileSystem(server.authority, user="u", token="t")


def test_a_uri_for_another_namenode_is_refused(server: WebHdfsTestServer) -> None:
    fs = WebHdfsFileSystem(server.authority, user="u")

    with pytest.raises(ValueError, match="names NameNode"):
        fs.exists("hdfs://elsewhere:9870/x")
