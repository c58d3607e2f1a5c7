"""Choosing the storage adapter for a path by its URI scheme.

Plain paths and ``file://`` go to the local disk, ``memory://`` to one
process-wide in-memory store, ``hdfs://host:port/`` to WebHDFS (one adapter
per NameNode address; user and delegation token from the environment
variables ``MONOLITH_HDFS_USER`` / ``MONOLITH_HDFS_TOKEN`` unless given).
Adapter modules are imported only when their scheme is first used.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from monolith.domain.errors import UsageError
from monolith.domain.storage_uri import parse_uri
from monolith.ports.storage import FileSystem

_lock = threading.Lock()
_shared: dict[str, FileSystem] = {}


def filesystem_for(
    uri: str,
    *,
    hdfs_user: str | None = None,
    hdfs_token: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> FileSystem:
    """The file system that serves ``uri`` (cached per scheme and authority).

    Raises:
        UsageError: for an unknown scheme or an ``hdfs://`` URI without a host.
    """
    parsed = parse_uri(uri)
    env = os.environ if environ is None else environ
    key = f"{parsed.scheme}://{parsed.authority}"
    with _lock:
        cached = _shared.get(key)
        if cached is not None and parsed.scheme != "hdfs":
            return cached
        fs: FileSystem
        if parsed.scheme == "file":
            from monolith.adapters.storage.local import LocalFileSystem

            fs = LocalFileSystem()
        elif parsed.scheme == "memory":
            from monolith.adapters.storage.memory import InMemoryFileSystem

            fs = InMemoryFileSystem()
        elif parsed.scheme == "hdfs":
            authority = parsed.authority or env.get("MONOLITH_HDFS_NAMENODE", "")
            if not authority:
                raise UsageError(
                    f"{uri!r} names no NameNode: use hdfs://host:port/path or set "
                    "MONOLITH_HDFS_NAMENODE"
                )
            user = hdfs_user if hdfs_user is not None else env.get("MONOLITH_HDFS_USER")
            token = (
                hdfs_token if hdfs_token is not None else env.get("MONOLITH_HDFS_TOKEN")
            )
            key = f"hdfs://{authority}|{user}|{token}"
            cached = _shared.get(key)
            if cached is not None:
                return cached
            from monolith.adapters.storage.hdfs import WebHdfsFileSystem

            fs = WebHdfsFileSystem(authority, user=user, token=token)
        else:  # parse_uri only returns known schemes
            raise UsageError(f"no storage adapter for scheme {parsed.scheme!r}")
        _shared[key] = fs
        return fs
