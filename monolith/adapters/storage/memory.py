"""A process-local, thread-safe in-memory file system (``memory://`` URIs).

Public: use it in tests, in the demo and when embedding monolith, wherever a
real disk is not wanted. It passes the same storage contract as the disk.
"""

from __future__ import annotations

import contextlib
import io
import logging
import posixpath
import threading
from collections.abc import Iterator
from typing import BinaryIO

from monolith.domain.errors import NotFoundError, StorageError, UsageError
from monolith.domain.globbing import compile_glob
from monolith.domain.storage_uri import StorageUri, parse_uri
from monolith.ports.storage import OpenMode

logger = logging.getLogger(__name__)


class _Writer(io.RawIOBase):
    """Appends into the shared buffer of one file; visible as it is written."""

    def __init__(self, buffer: bytearray, lock: threading.Lock) -> None:
        self._buffer = buffer
        self._lock = lock

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("write to closed file")
        with self._lock:
            self._buffer.extend(data)
        return len(data)


class InMemoryFileSystem:
    """Files kept in a dict, for tests and embedding.

    Accepts ``memory://`` URIs and plain absolute paths (a plain ``/a/b`` is
    the same file as ``memory:///a/b``); results come back in the caller's
    form. Each instance is its own namespace. No configuration keys.

    Warning:
        Everything lives in process memory: a 64 MiB file costs 64 MiB. Open
        readers see a snapshot taken at ``open``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, bytearray] = {}
        self._dirs: set[str] = {"/"}

    def _norm(self, path: str) -> tuple[StorageUri, str]:
        uri = parse_uri(path)
        if uri.scheme == "memory" or (uri.scheme == "file" and uri.prefix == ""):
            norm = posixpath.normpath("/" + uri.path.lstrip("/"))
            if norm.startswith("//"):
                norm = norm[1:]
            return uri, norm
        raise UsageError(
            f"InMemoryFileSystem cannot handle {path!r}: expected memory://path"
        )

    def _add_parents(self, norm: str) -> None:
        parent = posixpath.dirname(norm)
        while parent not in self._dirs:
            if parent in self._files:
                raise StorageError(f"cannot create {norm!r}: {parent!r} is a file")
            self._dirs.add(parent)
            parent = posixpath.dirname(parent)

    def open(self, path: str, mode: OpenMode = "rb") -> BinaryIO:
        _, norm = self._norm(path)
        with self._lock:
            if mode == "rb":
                content = self._files.get(norm)
                if content is None:
                    if norm in self._dirs:
                        raise StorageError(f"cannot open {path!r}: it is a directory")
                    raise NotFoundError(f"cannot open {path!r}: no such file")
                return io.BytesIO(bytes(content))
            if mode not in ("wb", "ab"):
                raise UsageError(
                    f"open mode {mode!r} is not supported: use rb, wb or ab"
                )
            if norm in self._dirs:
                raise StorageError(f"cannot open {path!r} for writing: a directory")
            self._add_parents(norm)
            buffer = self._files.get(norm)
            if buffer is None or mode == "wb":
                buffer = bytearray()
                self._files[norm] = buffer
        writer = _Writer(buffer, self._lock)
        return io.BufferedWriter(writer)  # type: ignore[type-var]

    @contextlib.contextmanager
    def atomic_write(self, path: str) -> Iterator[BinaryIO]:
        _, norm = self._norm(path)
        staging = io.BytesIO()
        yield staging
        data = bytearray(staging.getvalue())
        with self._lock:
            if norm in self._dirs:
                raise StorageError(f"cannot write {path!r}: it is a directory")
            self._add_parents(norm)
            self._files[norm] = data

    def exists(self, path: str) -> bool:
        _, norm = self._norm(path)
        with self._lock:
            return norm in self._files or norm in self._dirs

    def isdir(self, path: str) -> bool:
        _, norm = self._norm(path)
        with self._lock:
            return norm in self._dirs

    def glob(self, pattern: str) -> list[str]:
        uri, norm = self._norm(pattern)
        regex = compile_glob(norm)
        with self._lock:
            names = list(self._files) + list(self._dirs)
        return sorted(uri.with_path(name) for name in names if regex.fullmatch(name))

    def listdir(self, path: str) -> list[str]:
        _, norm = self._norm(path)
        with self._lock:
            if norm not in self._dirs:
                if norm in self._files:
                    raise StorageError(f"cannot list {path!r}: it is a file")
                raise NotFoundError(f"cannot list {path!r}: no such directory")
            prefix = norm.rstrip("/") + "/"
            names = {
                entry[len(prefix) :].split("/", 1)[0]
                for entry in list(self._files) + list(self._dirs)
                if entry.startswith(prefix) and entry != prefix
            }
        return sorted(names)

    def makedirs(self, path: str) -> None:
        _, norm = self._norm(path)
        with self._lock:
            if norm in self._files:
                raise StorageError(f"cannot create directory {path!r}: it is a file")
            self._add_parents(norm)
            self._dirs.add(norm)

    def remove(self, path: str) -> None:
        _, norm = self._norm(path)
        with self._lock:
            if norm in self._dirs:
                raise StorageError(f"cannot remove {path!r}: it is a directory")
            if self._files.pop(norm, None) is None:
                raise NotFoundError(f"cannot remove {path!r}: no such file")

    def rmtree(self, path: str) -> None:
        _, norm = self._norm(path)
        with self._lock:
            if norm not in self._dirs:
                if norm in self._files:
                    raise StorageError(f"cannot rmtree {path!r}: it is not a directory")
                raise NotFoundError(f"cannot rmtree {path!r}: no such directory")
            prefix = norm.rstrip("/") + "/"
            for name in [f for f in self._files if f.startswith(prefix)]:
                del self._files[name]
            self._dirs = {d for d in self._dirs if not d.startswith(prefix)}
            if norm != "/":
                self._dirs.discard(norm)

    def rename(self, src: str, dst: str) -> None:
        _, nsrc = self._norm(src)
        _, ndst = self._norm(dst)
        with self._lock:
            if nsrc in self._files:
                if ndst in self._dirs:
                    raise StorageError(f"cannot rename to {dst!r}: it is a directory")
                self._add_parents(ndst)
                self._files[ndst] = self._files.pop(nsrc)
                return
            if nsrc not in self._dirs:
                raise NotFoundError(f"cannot rename {src!r}: no such file")
            if ndst in self._files or ndst in self._dirs:
                raise StorageError(f"cannot rename directory onto {dst!r}: it exists")
            self._add_parents(ndst)
            prefix = nsrc.rstrip("/") + "/"
            for name in [f for f in self._files if f.startswith(prefix)]:
                self._files[ndst + name[len(nsrc) :]] = self._files.pop(name)
            moved = {d for d in self._dirs if d == nsrc or d.startswith(prefix)}
            self._dirs -= moved
            self._dirs |= {ndst + d[len(nsrc) :] for d in moved}

    def size(self, path: str) -> int:
        _, norm = self._norm(path)
        with self._lock:
            content = self._files.get(norm)
            if content is None:
                if norm in self._dirs:
                    raise StorageError(f"cannot size {path!r}: it is a directory")
                raise NotFoundError(f"cannot size {path!r}: no such file")
            return len(content)

    def walk_files(self, path: str) -> Iterator[str]:
        uri, norm = self._norm(path)
        with self._lock:
            if norm not in self._dirs:
                raise NotFoundError(f"cannot walk {path!r}: no such directory")
            prefix = norm.rstrip("/") + "/"
            found = sorted(f for f in self._files if f.startswith(prefix))
        for name in found:
            yield uri.with_path(name)
