"""TFRecord files over the storage port, byte-compatible with TensorFlow.

A record is framed as ``uint64 length`` (little-endian), the masked CRC32C of
those 8 bytes, the data, and the masked CRC32C of the data. CRCs come from the
``crc32c`` package. GZIP and ZLIB compression wrap the whole file as
TensorFlow does (:mod:`monolith.adapters.data.compression`).

Reading is chunked: the reader pulls 4 MiB at a time and slices records out
of the buffer, so the per-record cost is a few struct and CRC calls.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import attrs
import crc32c as crc32c_lib

from monolith.adapters.data.compression import (
    normalise,
    wrap_reader,
    wrap_writer,
)
from monolith.domain.errors import CorruptRecordError, StorageError
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_CHUNK = 4 << 20
_crc = crc32c_lib.crc32c


def masked_crc(data: bytes | memoryview) -> int:
    """TensorFlow's masked CRC32C of ``data``."""
    c = _crc(data)
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(record: bytes) -> bytes:
    """The bytes of one framed TFRecord holding ``record``."""
    header = _U64.pack(len(record))
    return b"".join(
        (header, _U32.pack(masked_crc(header)), record, _U32.pack(masked_crc(record)))
    )


@attrs.define
class ReadStats:
    """Counters a reader fills in: good records and skipped corrupt ones."""

    records: int = 0
    corrupt: int = 0
    files: int = 0


class TFRecordWriter:
    """Writes framed records to an open binary stream (optionally compressed).

    Args:
        handle: a writable binary stream; closed by :meth:`close`.
        compression: "", "GZIP" or "ZLIB".
        name: the path, for error messages.
    """

    def __init__(self, handle: BinaryIO, compression: str = "", name: str = "") -> None:
        self._name = name
        self._out = wrap_writer(handle, normalise(compression))
        self._closed = False

    def write(self, record: bytes) -> None:
        if self._closed:
            raise BrokenPipeError(f"TFRecord writer for {self._name!r} is closed")
        self._out.write(frame(record))

    def write_many(self, records: Iterable[bytes]) -> None:
        if self._closed:
            raise BrokenPipeError(f"TFRecord writer for {self._name!r} is closed")
        self._out.write(b"".join(frame(r) for r in records))

    def flush(self) -> None:
        self._out.flush()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._out.close()

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_writer(
    fs: FileSystem, path: str, compression: str = "", append: bool = False
) -> TFRecordWriter:
    """A :class:`TFRecordWriter` on ``path`` (truncating unless ``append``)."""
    handle = fs.open(path, "ab" if append else "wb")
    return TFRecordWriter(handle, normalise(compression, path), name=path)


def write_records(
    fs: FileSystem, path: str, records: Iterable[bytes], compression: str = ""
) -> int:
    """Write ``records`` to ``path`` atomically; returns how many were written."""
    count = 0
    with fs.atomic_write(path) as raw:
        out = wrap_writer(_NoClose(raw), normalise(compression, path))  # type: ignore[arg-type]
        for record in records:
            out.write(frame(record))
            count += 1
        out.close()
    return count


class _NoClose:
    """Lets a compressor finish its stream without closing the atomic file."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def write(self, data: bytes) -> int:
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        self._raw.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._raw, name)


class _Cursor:
    """A refillable buffer over a stream, tracking the file offset of ``pos``."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = 0
        self.base = 0  # file offset of buf[0]
        self.eof = False

    def ensure(self, n: int) -> bool:
        """Make ``n`` bytes available from pos; False if the stream ends first."""
        while len(self.buf) - self.pos < n:
            if self.eof:
                return False
            chunk = self.stream.read(max(_CHUNK, n))
            if not chunk:
                self.eof = True
                continue
            self.base += self.pos
            self.buf = self.buf[self.pos :] + chunk
            self.pos = 0
        return True


class TFRecordReader:
    """Iterates over the records of one TFRecord stream.

    Args:
        stream: a readable binary stream of (decompressed) TFRecord bytes.
        name: the path, named in errors.
        verify: check both CRCs of every record (the default, like TF).
        skip_corrupt: on a bad record, count it in ``stats.corrupt``, log a
            warning and resynchronise on the next valid header instead of
            raising :class:`CorruptRecordError`.
        stats: counters to fill in (a new one if not given).
    """

    def __init__(
        self,
        stream: BinaryIO,
        name: str,
        *,
        verify: bool = True,
        skip_corrupt: bool = False,
        stats: ReadStats | None = None,
    ) -> None:
        self._cur = _Cursor(stream)
        self._name = name
        self._verify = verify
        self._skip = skip_corrupt
        self.stats = stats if stats is not None else ReadStats()
        self._header_crcs: dict[int, int] = {}

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks():
            yield from chunk

    def chunks(self) -> Iterator[list[bytes]]:
        """Records in lists, one list per buffer refill (the fast path)."""
        cur = self._cur
        verify = self._verify
        crcs = self._header_crcs
        unpack_header = _HEADER.unpack_from
        unpack_u32 = _U32.unpack_from
        stats = self.stats
        while True:
            if len(cur.buf) - cur.pos < _CHUNK // 2 and not cur.eof:
                cur.ensure(_CHUNK)
            out: list[bytes] = []
            buf, pos, end_buf = cur.buf, cur.pos, len(cur.buf)
            while True:
                if pos + 12 > end_buf:
                    break
                length, length_crc = unpack_header(buf, pos)
                if verify:
                    want = crcs.get(length)
                    if want is None:
                        want = masked_crc(buf[pos : pos + 8])
                        if want == length_crc and len(crcs) < 4096:
                            crcs[length] = want
                    if want != length_crc:
                        break
                end = pos + 12 + length
                if end + 4 > end_buf:
                    break
                record = buf[pos + 12 : end]
                if verify:
                    c = _crc(record)
                    if (
                        ((c >> 15) | (c << 17)) + _MASK_DELTA
                    ) & 0xFFFFFFFF != unpack_u32(buf, end)[0]:
                        break
                out.append(record)
                pos = end + 4
            cur.pos = pos
            stats.records += len(out)
            if out:
                yield out
                continue
            record_or_none = self._slow_next()
            if record_or_none is None:
                return
            stats.records += 1
            yield [record_or_none]

    def _slow_next(self) -> bytes | None:
        """One record with full checks and refills; None at a clean end."""
        cur = self._cur
        while True:
            if not cur.ensure(1):
                return None
            offset = cur.base + cur.pos
            if not cur.ensure(12):
                if self._corrupt(offset, "truncated record header"):
                    return None
                continue
            length, length_crc = _HEADER.unpack_from(cur.buf, cur.pos)
            if (
                self._verify
                and masked_crc(cur.buf[cur.pos : cur.pos + 8]) != length_crc
            ):
                if self._corrupt(offset, "length CRC mismatch", resync=True):
                    return None
                continue
            if not cur.ensure(16 + length):
                if self._corrupt(
                    offset, f"truncated record (length {length} runs past the end)"
                ):
                    return None
                continue
            start = cur.pos + 12
            record = cur.buf[start : start + length]
            data_crc = _U32.unpack_from(cur.buf, start + length)[0]
            cur.pos = start + length + 4
            if self._verify and masked_crc(record) != data_crc:
                if self._corrupt(offset, "data CRC mismatch"):
                    return None
                continue
            return record

    def _corrupt(self, offset: int, what: str, resync: bool = False) -> bool:
        """Raise, or count and skip; True when the stream is exhausted."""
        message = f"{self._name}: corrupt TFRecord at byte offset {offset}: {what}"
        if not self._skip:
            raise CorruptRecordError(message)
        self.stats.corrupt += 1
        logger.warning(
            "corrupt record skipped path=%s offset=%d reason=%s",
            self._name,
            offset,
            what,
        )
        cur = self._cur
        if not resync:
            if "truncated" in what:
                cur.pos = len(cur.buf)
                cur.eof = True
                cur.stream.read()
                return True
            return False
        # Scan forward byte by byte for a header whose CRC checks.
        cur.pos += 1
        while cur.ensure(12):
            length, length_crc = _HEADER.unpack_from(cur.buf, cur.pos)
            if masked_crc(cur.buf[cur.pos : cur.pos + 8]) == length_crc:
                return False
            cur.pos += 1
        cur.pos = len(cur.buf)
        return True


def open_reader(
    fs: FileSystem,
    path: str,
    *,
    compression: str = "AUTO",
    verify: bool = True,
    skip_corrupt: bool = False,
    stats: ReadStats | None = None,
) -> TFRecordReader:
    """A :class:`TFRecordReader` over ``path``; close it via ``close_reader``."""
    raw = fs.open(path, "rb")
    stream = wrap_reader(raw, normalise(compression, path))
    return TFRecordReader(
        stream, path, verify=verify, skip_corrupt=skip_corrupt, stats=stats
    )


def iter_record_chunks(
    fs: FileSystem,
    path: str,
    *,
    compression: str = "AUTO",
    verify: bool = True,
    skip_corrupt: bool = False,
    stats: ReadStats | None = None,
) -> Iterator[list[bytes]]:
    """The records of ``path`` in lists (one per 4 MiB read); closes the file."""
    reader = open_reader(
        fs,
        path,
        compression=compression,
        verify=verify,
        skip_corrupt=skip_corrupt,
        stats=stats,
    )
    reader.stats.files += 1
    try:
        yield from reader.chunks()
    except (OSError, EOFError) as exc:
        if isinstance(exc, StorageError):
            raise
        raise CorruptRecordError(
            f"{path}: cannot decompress or read TFRecord stream: {exc}"
        ) from exc
    finally:
        reader._cur.stream.close()


def iter_records(
    fs: FileSystem,
    path: str,
    *,
    compression: str = "AUTO",
    verify: bool = True,
    skip_corrupt: bool = False,
    stats: ReadStats | None = None,
) -> Iterator[bytes]:
    """Every record of ``path`` in order."""
    for chunk in iter_record_chunks(
        fs,
        path,
        compression=compression,
        verify=verify,
        skip_corrupt=skip_corrupt,
        stats=stats,
    ):
        yield from chunk
