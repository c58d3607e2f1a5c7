"""The local disk behind the storage port (plain paths and ``file://`` URIs)."""

from __future__ import annotations

import contextlib
import errno
import glob as globlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from monolith.domain.errors import NotFoundError, StorageError, UsageError
from monolith.domain.storage_uri import StorageUri, parse_uri
from monolith.ports.storage import OpenMode

logger = logging.getLogger(__name__)


def _translate(exc: OSError, action: str, path: str) -> StorageError:
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
        return NotFoundError(f"cannot {action} {path!r}: no such file or directory")
    return StorageError(f"cannot {action} {path!r}: {exc.strerror or exc}")


class LocalFileSystem:
    """Files on the local disk.

    Accepts plain paths (relative or absolute) and ``file://`` URIs; results
    (``glob``, ``walk_files``) come back in the form the caller used. No
    configuration keys.

    Warning:
        ``atomic_write`` relies on POSIX ``rename`` being atomic within a
        directory; on network file systems without that guarantee a reader may
        briefly see the old file after the writer returned.
    """

    def _local(self, path: str) -> tuple[StorageUri, str]:
        uri = parse_uri(path)
        if uri.scheme != "file":
            raise UsageError(
                f"LocalFileSystem cannot handle {path!r}: expected a plain path "
                "or a file:// URI"
            )
        return uri, uri.path

    def open(self, path: str, mode: OpenMode = "rb") -> BinaryIO:
        _, local = self._local(path)
        if mode not in ("rb", "wb", "ab"):
            raise UsageError(f"open mode {mode!r} is not supported: use rb, wb or ab")
        try:
            if mode != "rb":
                parent = os.path.dirname(local)
                if parent:
                    os.makedirs(parent, exist_ok=True)
            return open(local, mode)  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise _translate(exc, f"open ({mode})", path) from exc

    @contextlib.contextmanager
    def atomic_write(self, path: str) -> Iterator[BinaryIO]:
        _, local = self._local(path)
        parent = os.path.dirname(local) or "."
        tmp = os.path.join(
            parent, f".{os.path.basename(local)}.tmp-{uuid.uuid4().hex[:12]}"
        )
        try:
            os.makedirs(parent, exist_ok=True)
            handle = open(tmp, "wb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise _translate(exc, "write", path) from exc
        try:
            with handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, local)
            _fsync_dir(parent)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            if isinstance(exc, OSError) and not isinstance(exc, StorageError):
                raise _translate(exc, "write", path) from exc
            raise
        logger.debug("atomic write done path=%s", path)

    def exists(self, path: str) -> bool:
        return os.path.exists(self._local(path)[1])

    def isdir(self, path: str) -> bool:
        return os.path.isdir(self._local(path)[1])

    def glob(self, pattern: str) -> list[str]:
        uri, local = self._local(pattern)
        return sorted(uri.with_path(p) for p in globlib.glob(local))

    def listdir(self, path: str) -> list[str]:
        _, local = self._local(path)
        try:
            return sorted(os.listdir(local))
        except OSError as exc:
            raise _translate(exc, "list", path) from exc

    def makedirs(self, path: str) -> None:
        _, local = self._local(path)
        try:
            os.makedirs(local, exist_ok=True)
        except OSError as exc:
            raise _translate(exc, "create directory", path) from exc

    def remove(self, path: str) -> None:
        _, local = self._local(path)
        try:
            os.remove(local)
        except OSError as exc:
            raise _translate(exc, "remove", path) from exc

    def rmtree(self, path: str) -> None:
        _, local = self._local(path)
        if not os.path.isdir(local):
            if os.path.exists(local):
                raise StorageError(f"cannot rmtree {path!r}: it is not a directory")
            raise NotFoundError(f"cannot rmtree {path!r}: no such directory")
        try:
            shutil.rmtree(local)
        except OSError as exc:
            raise _translate(exc, "rmtree", path) from exc

    def rename(self, src: str, dst: str) -> None:
        _, local_src = self._local(src)
        _, local_dst = self._local(dst)
        try:
            if not os.path.exists(local_src):
                raise FileNotFoundError(errno.ENOENT, "missing", local_src)
            parent = os.path.dirname(local_dst)
            if parent:
                os.makedirs(parent, exist_ok=True)
            os.replace(local_src, local_dst)
        except OSError as exc:
            raise _translate(exc, f"rename to {dst!r}", src) from exc

    def size(self, path: str) -> int:
        _, local = self._local(path)
        try:
            if os.path.isdir(local):
                raise StorageError(f"cannot size {path!r}: it is a directory")
            return os.path.getsize(local)
        except StorageError:
            raise
        except OSError as exc:
            raise _translate(exc, "size", path) from exc

    def walk_files(self, path: str) -> Iterator[str]:
        uri, local = self._local(path)
        if not os.path.isdir(local):
            raise NotFoundError(f"cannot walk {path!r}: no such directory")
        found: list[str] = []
        for dirpath, _dirs, files in os.walk(local):
            found.extend(os.path.join(dirpath, name) for name in files)
        for item in sorted(found):
            yield uri.with_path(item)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
