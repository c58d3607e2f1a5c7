"""HDFS behind the storage port, over the WebHDFS REST API (``hdfs://`` URIs).

Library choice: fsspec's ``WebHDFS`` over HdfsCLI (``hdfs``). Both speak
WebHDFS through ``requests`` and both offer user (``user.name``) and
delegation-token auth (fsspec adds Kerberos/SPNEGO, basic auth and a
``proxy_to`` user). fsspec is already installed with torch, releases
several times a year (HdfsCLI's last release was 2023), streams writes in
4 MiB blocks through CREATE + APPEND and reads through ranged OPENs, so a
64 MiB file never sits in memory, and its buffered file objects give us
``seek``/``read(n)``. Its error mapping is coarse (``RuntimeError`` with the
NameNode's message), so this adapter checks types and existence itself and
translates every failure to the port's errors.

fsspec's ``ab`` mode never records the DataNode location of its APPEND
redirect (it only does so for ``wb``), so appends to an existing file go
through :class:`_AppendFile`, which performs the two-step APPEND with
fsspec's request helper.

Config: the NameNode's WebHDFS ``host:port`` (from the URI), ``user`` and
``token`` (a delegation token; HDFS forbids passing both).

Warning:
    WebHDFS ``RENAME`` never replaces an existing target, so ``rename`` and
    ``atomic_write`` over an existing file delete the target first: a
    concurrent reader may briefly get NotFoundError (never a partial file).
    Tests run against a WebHDFS-protocol test server
    (:mod:`monolith.testing.webhdfs_server`), not a NameNode, because none can
    be installed here; set ``MONOLITH_TEST_WEBHDFS_URL`` to run the same
    contract suite against a real cluster.
"""

from __future__ import annotations

import contextlib
import io
import logging
import posixpath
import uuid
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, TypeVar

import requests
from fsspec.implementations.webhdfs import WebHDFS

from monolith.domain.errors import NotFoundError, StorageError, UsageError
from monolith.domain.globbing import compile_glob, has_magic
from monolith.domain.storage_uri import StorageUri, parse_uri
from monolith.ports.storage import OpenMode

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _translate(exc: BaseException, action: str, path: str) -> StorageError:
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return NotFoundError(f"cannot {action} {path!r}: no such file or directory")
    if isinstance(exc, PermissionError):
        return StorageError(f"cannot {action} {path!r}: permission denied ({exc})")
    if isinstance(exc, requests.RequestException):
        return StorageError(f"cannot {action} {path!r}: WebHDFS request failed ({exc})")
    return StorageError(f"cannot {action} {path!r}: {exc}")


_FOREIGN = (OSError, RuntimeError, ValueError, KeyError, requests.RequestException)


class _File(io.RawIOBase):
    """A WebHDFS file whose read/write errors become port errors."""

    def __init__(self, inner: Any, path: str, mode: str) -> None:
        self._inner = inner
        self._path = path
        self._mode = mode

    def readable(self) -> bool:
        return self._mode == "rb"

    def writable(self) -> bool:
        return self._mode != "rb"

    def seekable(self) -> bool:
        return self._mode == "rb"

    def _guard(self, action: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except _FOREIGN as exc:
            raise _translate(exc, action, self._path) from exc

    def read(self, size: int = -1) -> bytes:
        return bytes(self._guard("read", lambda: self._inner.read(size)))

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data: Any) -> int:
        return int(self._guard("write", lambda: self._inner.write(bytes(data))))

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._guard("seek", lambda: self._inner.seek(offset, whence)))

    def tell(self) -> int:
        return int(self._inner.tell())

    def flush(self) -> None:
        if not self.closed and self._mode != "rb" and not self._inner.closed:
            self._guard("flush", self._inner.flush)

    def close(self) -> None:
        if not self.closed:
            try:
                self._guard("close", self._inner.close)
            finally:
                super().close()


class _AppendFile(io.RawIOBase):
    """Appends in blocks: each block is one two-step WebHDFS APPEND."""

    BLOCK = 4 << 20

    def __init__(self, fs: WebHDFS, hpath: str, uri: str) -> None:
        self._fs = fs
        self._hpath = hpath
        self._uri = uri
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._pending.extend(data)
        if len(self._pending) >= self.BLOCK:
            self._send()
        return len(data)

    def _send(self) -> None:
        if not self._pending:
            return
        data, self._pending = bytes(self._pending), bytearray()
        try:
            first = self._fs._call("APPEND", "POST", self._hpath, redirect=False)
            location = self._fs._apply_proxy(first.headers["Location"])
            second = self._fs.session.post(
                location,
                data=data,
                headers={"content-type": "application/octet-stream"},
            )
            second.raise_for_status()
        except _FOREIGN as exc:
            raise _translate(exc, "append to", self._uri) from exc

    def flush(self) -> None:
        if not self.closed:
            self._send()

    def close(self) -> None:
        if not self.closed:
            try:
                self._send()
            finally:
                super().close()


class WebHdfsFileSystem:
    """Files on HDFS through one NameNode's WebHDFS endpoint.

    Args:
        authority: ``host:port`` of the NameNode's HTTP(S) server.
        user: the ``user.name`` to act as (simple auth).
        token: a delegation token (instead of ``user``).
        use_https: talk HTTPS to the NameNode.
    """

    def __init__(
        self,
        authority: str,
        *,
        user: str | None = None,
        token: str | None = None,
        use_https: bool = False,
    ) -> None:
        host, _, port = authority.partition(":")
        if not host or not port.isdigit():
            raise UsageError(
                f"WebHDFS address {authority!r} is malformed: expected host:port"
            )
        if user and token:
            raise UsageError(
                "give either an HDFS user or a delegation token, not both: the "
                "token already names its user"
            )
        self.authority = authority
        self._fs = WebHDFS(
            host,
            port=int(port),
            user=user or None,
            token=token or None,
            use_https=use_https,
            skip_instance_cache=True,
            use_listings_cache=False,
        )

    # ------------------------------------------------------------- helpers
    def _path(self, uri: str) -> tuple[StorageUri, str]:
        parsed = parse_uri(uri)
        if parsed.scheme != "hdfs":
            raise UsageError(
                f"WebHdfsFileSystem cannot handle {uri!r}: expected hdfs://host:port/path"
            )
        if parsed.authority and parsed.authority != self.authority:
            raise UsageError(
                f"{uri!r} names NameNode {parsed.authority!r}, but this file system "
                f"talks to {self.authority!r}"
            )
        return parsed, posixpath.normpath(parsed.path) if parsed.path != "/" else "/"

    def _guard(self, action: str, path: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except _FOREIGN as exc:
            raise _translate(exc, action, path) from exc

    def _info(self, uri: str, path: str) -> dict[str, Any] | None:
        try:
            return dict(self._fs.info(path))
        except FileNotFoundError:
            return None
        except _FOREIGN as exc:
            raise _translate(exc, "stat", uri) from exc

    def _entries(self, uri: str, path: str) -> list[dict[str, Any]]:
        entries = self._guard("list", uri, lambda: self._fs.ls(path, detail=True))
        return [dict(e) for e in entries]

    # ---------------------------------------------------------------- port
    def open(self, path: str, mode: OpenMode = "rb") -> BinaryIO:
        _, hpath = self._path(path)
        if mode not in ("rb", "wb", "ab"):
            raise UsageError(f"open mode {mode!r} is not supported: use rb, wb or ab")
        info = self._info(path, hpath)
        if info is not None and info["type"] == "directory":
            raise StorageError(f"cannot open {path!r}: it is a directory")
        if mode == "rb" and info is None:
            raise NotFoundError(f"cannot open {path!r}: no such file")
        if mode == "ab" and info is not None:
            return _AppendFile(self._fs, hpath, path)  # type: ignore[return-value]
        real_mode = "rb" if mode == "rb" else "wb"
        if real_mode == "wb":
            self._ensure_parent(path, hpath)
        inner = self._guard(
            f"open ({mode})", path, lambda: self._fs.open(hpath, real_mode)
        )
        if mode == "rb":
            reader = _File(inner, path, "rb")
            return io.BufferedReader(reader, 1 << 20)
        return _File(inner, path, "wb")  # type: ignore[return-value]

    def _ensure_parent(self, uri: str, hpath: str) -> None:
        parent = posixpath.dirname(hpath)
        if parent and parent != "/":
            self._guard("create parent of", uri, lambda: self._fs.mkdir(parent))

    @contextlib.contextmanager
    def atomic_write(self, path: str) -> Iterator[BinaryIO]:
        parsed, hpath = self._path(path)
        tmp_path = posixpath.join(
            posixpath.dirname(hpath),
            f".{posixpath.basename(hpath)}.tmp-{uuid.uuid4().hex[:12]}",
        )
        tmp_uri = parsed.with_path(tmp_path)
        handle = self.open(tmp_uri, "wb")
        try:
            with handle:
                yield handle
            self.rename(tmp_uri, path)
        except BaseException:
            with contextlib.suppress(StorageError):
                if self.exists(tmp_uri):
                    self.remove(tmp_uri)
            raise

    def exists(self, path: str) -> bool:
        _, hpath = self._path(path)
        return self._info(path, hpath) is not None

    def isdir(self, path: str) -> bool:
        _, hpath = self._path(path)
        info = self._info(path, hpath)
        return info is not None and info["type"] == "directory"

    def glob(self, pattern: str) -> list[str]:
        parsed, hpath = self._path(pattern)
        if not has_magic(hpath):
            return [pattern] if self._info(pattern, hpath) is not None else []
        segments = hpath.strip("/").split("/")
        fixed: list[str] = []
        while segments and not has_magic(segments[0]):
            fixed.append(segments.pop(0))
        frontier = ["/" + "/".join(fixed)] if fixed else ["/"]
        for i, segment in enumerate(segments):
            regex = compile_glob(segment)
            last = i == len(segments) - 1
            following: list[str] = []
            for base in frontier:
                info = self._info(pattern, base)
                if info is None or info["type"] != "directory":
                    continue
                for entry in self._entries(pattern, base):
                    name = posixpath.basename(entry["name"].rstrip("/"))
                    if regex.fullmatch(name) and (last or entry["type"] == "directory"):
                        following.append(posixpath.join(base, name))
            frontier = following
        return sorted(parsed.with_path(p) for p in frontier)

    def listdir(self, path: str) -> list[str]:
        _, hpath = self._path(path)
        info = self._info(path, hpath)
        if info is None:
            raise NotFoundError(f"cannot list {path!r}: no such directory")
        if info["type"] != "directory":
            raise StorageError(f"cannot list {path!r}: it is a file")
        return sorted(
            posixpath.basename(e["name"].rstrip("/"))
            for e in self._entries(path, hpath)
        )

    def makedirs(self, path: str) -> None:
        _, hpath = self._path(path)
        info = self._info(path, hpath)
        if info is not None:
            if info["type"] != "directory":
                raise StorageError(f"cannot create directory {path!r}: it is a file")
            return
        self._guard("create directory", path, lambda: self._fs.mkdir(hpath))

    def remove(self, path: str) -> None:
        _, hpath = self._path(path)
        info = self._info(path, hpath)
        if info is None:
            raise NotFoundError(f"cannot remove {path!r}: no such file")
        if info["type"] == "directory":
            raise StorageError(f"cannot remove {path!r}: it is a directory")
        self._guard("remove", path, lambda: self._fs.rm(hpath))

    def rmtree(self, path: str) -> None:
        _, hpath = self._path(path)
        info = self._info(path, hpath)
        if info is None:
            raise NotFoundError(f"cannot rmtree {path!r}: no such directory")
        if info["type"] != "directory":
            raise StorageError(f"cannot rmtree {path!r}: it is not a directory")
        self._guard("rmtree", path, lambda: self._fs.rm(hpath, recursive=True))

    def rename(self, src: str, dst: str) -> None:
        _, hsrc = self._path(src)
        _, hdst = self._path(dst)
        if self._info(src, hsrc) is None:
            raise NotFoundError(f"cannot rename {src!r}: no such file")
        target = self._info(dst, hdst)
        if target is not None:
            if target["type"] == "directory":
                raise StorageError(f"cannot rename {src!r} onto directory {dst!r}")
            self._guard("replace", dst, lambda: self._fs.rm(hdst))
        else:
            self._ensure_parent(dst, hdst)
        self._guard("rename to " + dst, src, lambda: self._fs.mv(hsrc, hdst))
        if self._info(dst, hdst) is None:
            raise StorageError(f"cannot rename {src!r} to {dst!r}: NameNode refused")

    def size(self, path: str) -> int:
        _, hpath = self._path(path)
        info = self._info(path, hpath)
        if info is None:
            raise NotFoundError(f"cannot size {path!r}: no such file")
        if info["type"] == "directory":
            raise StorageError(f"cannot size {path!r}: it is a directory")
        return int(info["size"])

    def walk_files(self, path: str) -> Iterator[str]:
        parsed, hpath = self._path(path)
        info = self._info(path, hpath)
        if info is None or info["type"] != "directory":
            raise NotFoundError(f"cannot walk {path!r}: no such directory")
        found: list[str] = []
        stack = [hpath]
        while stack:
            base = stack.pop()
            for entry in self._entries(path, base):
                child = posixpath.join(
                    base, posixpath.basename(entry["name"].rstrip("/"))
                )
                if entry["type"] == "directory":
                    stack.append(child)
                else:
                    found.append(child)
        for item in sorted(found):
            yield parsed.with_path(item)
