"""The file-system port: local disk, memory or HDFS behind one interface.

URIs: a plain path or ``file://path`` (local), ``memory://path`` (in-memory),
``hdfs://host:port/path`` (WebHDFS). An adapter accepts the forms for its own
scheme and rejects others with :class:`~monolith.domain.errors.UsageError`.

Errors: a missing path raises :class:`~monolith.domain.errors.NotFoundError`;
any other backend failure raises :class:`~monolith.domain.errors.StorageError`
(``raise ... from`` the backend's exception). No backend exception escapes.

Thread-safety: every method may be called from several threads at once; a
returned file object belongs to the caller's thread and must be closed.

Conformance: :class:`monolith.testing.contracts.storage.StorageContract` is
the executable form of this contract; every adapter passes it.
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
        file raises NotFoundError; opening a directory raises StorageError.
        Written bytes are visible to readers at the latest when the file is
        closed (local and in-memory stores show them as they are written).
        The caller closes the returned object.
        """
        ...

    def atomic_write(self, path: str) -> AbstractContextManager[BinaryIO]:
        """A context manager whose file becomes visible at ``path`` only on success.

        Bytes go to a temporary file beside ``path``; on a clean exit it is
        flushed, fsynced and renamed over ``path``. On an exception the
        temporary file is removed and ``path`` is untouched. A concurrent
        reader sees either the old content or the new, never a partial file.
        (On WebHDFS, whose rename cannot replace, the target is deleted just
        before the rename, so a reader may briefly get NotFoundError.) The
        temporary name starts with ``.``, so globs do not match it.
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

        Wildcards never cross ``/`` and never match a leading ``.`` (as in
        Python's :mod:`glob`). Returned paths are in the same URI form as
        ``pattern``, sorted as strings. No match, or a missing directory,
        returns an empty list.
        """
        ...

    def listdir(self, path: str) -> list[str]:
        """Names (not paths) of the entries of directory ``path``, sorted.

        A missing path raises NotFoundError; a file raises StorageError.
        """
        ...

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents; an existing directory is fine.

        An existing file at ``path`` raises StorageError.
        """
        ...

    def remove(self, path: str) -> None:
        """Delete the file at ``path``; a missing file raises NotFoundError.

        A directory raises StorageError (use :meth:`rmtree`).
        """
        ...

    def rmtree(self, path: str) -> None:
        """Delete the directory ``path`` and everything below it.

        A missing path raises NotFoundError; a file raises StorageError.
        """
        ...

    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``, replacing an existing file at ``dst``.

        Parents of ``dst`` are created. A missing ``src`` raises
        NotFoundError; a directory at ``dst`` raises StorageError.
        """
        ...

    def size(self, path: str) -> int:
        """Size in bytes of the file at ``path``.

        A missing path raises NotFoundError; a directory raises StorageError.
        """
        ...

    def walk_files(self, path: str) -> Iterator[str]:
        """Every file below directory ``path``, recursively, in sorted order.

        Paths come back in the URI form of ``path``; a missing directory
        raises NotFoundError.
        """
        ...
