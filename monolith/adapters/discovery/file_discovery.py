"""Discovery through a shared directory: one small file per registered task."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
from pathlib import Path

from monolith.adapters.discovery.closing import ClosingDiscovery
from monolith.domain.addresses import (
    node_name,
    parse_node_name,
    validate_address,
    validate_role,
)
from monolith.domain.errors import DiscoveryError

logger = logging.getLogger(__name__)


class FileDiscovery(ClosingDiscovery):
    """ServiceDiscovery for several processes on one machine, via a directory.

    Backend: the local file system. Task ``index`` of role ``name`` is the
    file ``<directory>/<name>.<index>`` holding the UTF-8 ``host:port``, the
    same layout as the ZooKeeper adapter's nodes. Files are published
    atomically (temp file in the same directory, fsync, rename), so a reader
    sees the old address or the new one, never a partial write.

    Registrations are ephemeral, like ZooKeeper's nodes: the registering
    process holds an exclusive ``flock`` on its file for as long as the
    registration stands, and the kernel drops that lock when the process
    ends, SIGKILL included. :meth:`query` skips files nobody holds, so a
    killed task disappears at once; its file stays until the task registers
    again.

    Config keys: ``discovery_dir`` (the directory; created if missing).

    Warning:
        The directory must be on a local file system (rename is not atomic,
        and ``flock`` not shared, on every network one). A child made by a
        bare ``fork`` (no exec) inherits the lock and keeps the registration
        alive until it exits too.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._dir = Path(directory)
        self._lock = threading.Lock()
        self._own: dict[tuple[str, int], str] = {}
        self._held: dict[tuple[str, int], int] = {}  # locked fd per registration
        self._closed = False
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DiscoveryError(
                f"cannot create discovery directory {str(self._dir)!r}: {exc}"
            ) from exc

    def register(self, name: str, index: int, addr: str) -> None:
        validate_address(addr)
        path = self._dir / node_name(name, index)
        with self._lock:
            self._check_open()
            self._publish((name, index), path, addr)
            self._own[(name, index)] = addr
        logger.debug("registered name=%s index=%d addr=%s", name, index, addr)

    def deregister(self, name: str, index: int, addr: str) -> None:
        validate_role(name, index)
        validate_address(addr)
        with self._lock:
            self._check_open()
            self._withdraw(name, index, addr)

    def query(self, name: str) -> dict[int, str]:
        with self._lock:
            self._check_open()
            found: dict[int, str] = {}
            for entry in self._list():
                parsed = parse_node_name(entry)
                if parsed is None or parsed[0] != name:
                    continue
                addr, live = self._read_held(self._dir / entry)
                if addr and live:
                    found[parsed[1]] = addr
                elif addr:
                    logger.debug("stale registration skipped file=%s", entry)
            return found

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            for (name, index), addr in list(self._own.items()):
                try:
                    self._withdraw(name, index, addr)
                except DiscoveryError as exc:
                    logger.warning(
                        "deregistration failed name=%s index=%d error=%s",
                        name,
                        index,
                        exc,
                    )
            self._closed = True

    def _publish(self, key: tuple[str, int], path: Path, addr: str) -> None:
        tmp_name = ""
        fd = -1
        try:
            fd, tmp_name = tempfile.mkstemp(dir=self._dir, prefix=".tmp-")
            os.write(fd, addr.encode("utf-8"))
            os.fsync(fd)
            # A fresh inode nobody else has open: the lock cannot block. It
            # moves with the inode when the rename publishes it.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.replace(tmp_name, path)
        except OSError as exc:
            if fd >= 0:
                os.close(fd)
            if tmp_name:
                Path(tmp_name).unlink(missing_ok=True)
            raise DiscoveryError(
                f"cannot write registration {str(path)!r}: {exc}"
            ) from exc
        self._release(key)
        self._held[key] = fd

    def _release(self, key: tuple[str, int]) -> None:
        fd = self._held.pop(key, None)
        if fd is not None:
            os.close(fd)

    def _withdraw(self, name: str, index: int, addr: str) -> None:
        path = self._dir / node_name(name, index)
        if self._read(path) == addr:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise DiscoveryError(
                    f"cannot remove registration {str(path)!r}: {exc}"
                ) from exc
        if self._own.get((name, index)) == addr:
            del self._own[(name, index)]
            self._release((name, index))

    def _list(self) -> list[str]:
        try:
            return sorted(p.name for p in self._dir.iterdir() if p.is_file())
        except OSError as exc:
            raise DiscoveryError(
                f"cannot list discovery directory {str(self._dir)!r}: {exc}"
            ) from exc

    def _read(self, path: Path) -> str | None:
        try:
            return path.read_bytes().decode("utf-8").strip() or None
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise DiscoveryError(
                f"cannot read registration {str(path)!r}: {exc}"
            ) from exc

    def _read_held(self, path: Path) -> tuple[str | None, bool]:
        """The address in ``path`` and whether a live process holds it."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None, False
        except OSError as exc:
            raise DiscoveryError(
                f"cannot read registration {str(path)!r}: {exc}"
            ) from exc
        try:
            data = os.read(fd, 4096)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                live = True
            else:
                live = False  # nobody holds it; closing drops our lock
            return data.decode("utf-8").strip() or None, live
        except (OSError, UnicodeDecodeError) as exc:
            raise DiscoveryError(
                f"cannot read registration {str(path)!r}: {exc}"
            ) from exc
        finally:
            os.close(fd)

    def _check_open(self) -> None:
        if self._closed:
            raise DiscoveryError(
                f"file discovery on {str(self._dir)!r} is closed; create a new one"
            )
