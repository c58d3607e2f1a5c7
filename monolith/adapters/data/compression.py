"""GZIP and ZLIB streams as TensorFlow's TFRecord options write them.

TensorFlow compresses the whole file as one stream: ``GZIP`` is a gzip member,
``ZLIB`` a zlib stream with its two-byte header. ``""`` means no compression.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import BinaryIO, Literal

from monolith.domain.errors import UsageError

Compression = Literal["", "GZIP", "ZLIB"]


def normalise(compression: str | None, path: str = "") -> Compression:
    """The canonical compression name; ``AUTO`` picks by file suffix.

    Raises:
        UsageError: for anything other than "", NONE, GZIP, ZLIB or AUTO.
    """
    value = (compression or "").upper()
    if value == "AUTO":
        if path.endswith(".gz"):
            return "GZIP"
        if path.endswith((".zz", ".zlib")):
            return "ZLIB"
        return ""
    if value in ("", "NONE"):
        return ""
    if value in ("GZIP", "ZLIB"):
        return value  # type: ignore[return-value]
    raise UsageError(
        f"compression {compression!r} is not supported: use '', GZIP, ZLIB or AUTO"
    )


class _ZlibReader(io.RawIOBase):
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            if self._inflate.eof:
                return 0
            chunk = self._raw.read(1 << 20)
            if not chunk:
                self._pending = self._inflate.flush()
                if not self._pending:
                    if not self._inflate.eof:
                        raise zlib.error("truncated zlib stream")
                    return 0
                break
            self._pending = self._inflate.decompress(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class _ZlibWriter(io.RawIOBase):
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._deflate = zlib.compressobj()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._raw.write(self._deflate.compress(data))
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._raw.write(self._deflate.flush())
            self._raw.close()
        super().close()


def wrap_reader(raw: BinaryIO, compression: Compression) -> BinaryIO:
    """A binary stream of the decompressed bytes of ``raw`` (closing it closes raw)."""
    if compression == "GZIP":
        return _Closing(gzip.GzipFile(fileobj=raw, mode="rb"), raw)  # type: ignore[return-value]
    if compression == "ZLIB":
        return io.BufferedReader(_ZlibReader(raw), 1 << 20)
    return raw


def wrap_writer(raw: BinaryIO, compression: Compression) -> BinaryIO:
    """A binary stream that compresses into ``raw`` (closing it closes raw)."""
    if compression == "GZIP":
        return _Closing(gzip.GzipFile(fileobj=raw, mode="wb", mtime=0), raw)  # type: ignore[return-value]
    if compression == "ZLIB":
        return io.BufferedWriter(_ZlibWriter(raw), 1 << 20)  # type: ignore[type-var]
    return raw


class _Closing(io.RawIOBase):
    """Delegates to a gzip stream and closes the underlying file too."""

    def __init__(self, inner: gzip.GzipFile, raw: BinaryIO) -> None:
        self._inner = inner
        self._raw = raw

    def readable(self) -> bool:
        return self._inner.readable()

    def writable(self) -> bool:
        return self._inner.writable()

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._inner.readinto(buffer)

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        return self._inner.write(data)

    def flush(self) -> None:
        if not self._inner.closed and self._inner.writable():
            self._inner.flush()

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                self._raw.close()
        super().close()
