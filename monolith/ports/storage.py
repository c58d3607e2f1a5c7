"""The file-system port: local disk, memory or HDFS behind one interface.

URIs: a plain path or ``file://path`` (local), ``memory://path`` (in-memory),
``hdfs://host:port/path`` (WebHDFS). An adapter accepts the forms for its own
scheme and rejects others with :class:`~monolith.domain.errors.UsageError`.

Errors: a missing path raises :class:`~monolith.domain.errors.NotFoundError`;
any other backend failure raises :class:`~monolith.domain.errors.StorageError`
(``raise ... from`` the backend's exception). No backend exception escapes.

Thread-safety: every method may be called from several threads at once; a
returned file object belongs to the caller's thread and must be closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO, Literal, Protocol

OpenMode = Literal["rb", "wb", "ab"]


class FileSystem(Protocol):
    """A hierarchical file system with atomic publication of whole files."""

    def open(self, path: str, mode: OpenMode = "rb") -> BinaryIO:
        """Open ``path``; ``wb`` truncates or creates, ``ab`` appends or creates.

        Parent directories are created for ``wb`` and ``ab``. Reading a missing
        file raises NotFoundError.
        """
        ...

    def atomic_write(self, path: str) -> AbstractContextManager[BinaryIO]:
        """A context manager whose file becomes visible at ``path`` only on success.

        Bytes go to a temporary file beside ``path``; on a clean exit it is
        flushed, fsynced and renamed over ``path``. On an exception the
        temporary file is removed and ``path`` is untouched. A concurrent
        reader sees either the old content or the new, never a partial file.
        """
        ...

    def exists(self, path: str) -> bool:
        """Whether a file or directory exists at ``path``."""
        ...

    def isdir(self, path: str) -> bool:
        """Whether ``path`` is a directory."""
        ...

    def glob(self, pattern: str) -> list[str]:
        """Paths matching a shell pattern (``*``, ``?``, ``[...]``), sorted.

        Returned paths are in the same URI form as ``pattern``. No match
        returns an empty list.
        """
        ...

    def listdir(self, path: str) -> list[str]:
        """Names (not paths) of the entries of directory ``path``, sorted."""
        ...

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents; an existing directory is fine."""
        ...

    def remove(self, path: str) -> None:
        """Delete the file at ``path``; a missing file raises NotFoundError."""
        ...

    def rmtree(self, path: str) -> None:
        """Delete the directory ``path`` and everything below it."""
        ...

    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``, replacing an existing file at ``dst``."""
        ...

    def size(self, path: str) -> int:
        """Size in bytes of the file at ``path``."""
        ...

    def walk_files(self, path: str) -> Iterator[str]:
        """Every file below directory ``path``, recursively, in sorted order."""
        ...
