from __future__ import annotations

import struct

import crc32c
import pytest

from monolith.adapters.data.tfrecord import (
    ReadStats,
    frame,
    iter_records,
    masked_crc,
    open_writer,
    write_records,
)
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.domain.errors import CorruptRecordError

pytestmark = pytest.mark.unit

PATH = "memory://data/part-0.tfrecord"


@pytest.fixture
def fs() -> InMemoryFileSystem:
    return InMemoryFileSystem()


def _raw(fs: InMemoryFileSystem, path: str = PATH) -> bytes:
    with fs.open(path, "rb") as handle:
        return handle.read()


def _put(fs: InMemoryFileSystem, data: bytes, path: str = PATH) -> None:
    with fs.open(path, "wb") as handle:
        handle.write(data)


def test_a_frame_is_length_crc_data_crc() -> None:
    record = b"hello"

    framed = frame(record)

    length, length_crc = struct.unpack("<QI", framed[:12])
    assert length == 5
    c = crc32c.crc32c(framed[:8])
    assert length_crc == (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    assert framed[12:17] == record
    assert struct.unpack("<I", framed[17:])[0] == masked_crc(record)


@pytest.mark.parametrize(
    "compression", ["", "GZIP", "ZLIB"], ids=["none", "gzip", "zlib"]
)
def test_records_round_trip_with_each_compression(
    fs: InMemoryFileSystem, compression: str
) -> None:
    records = [b"", b"a", b"x" * 70000, bytes(range(256))] * 50

    write_records(fs, PATH, records, compression=compression)

    assert list(iter_records(fs, PATH, compression=compression)) == records


def test_records_spanning_many_read_blocks_come_back_in_order(
    fs: InMemoryFileSystem,
) -> None:
    records = [bytes([i % 256]) * (1000 + i) for i in range(9000)]

    write_records(fs, PATH, records)

    assert list(iter_records(fs, PATH)) == records


def test_writer_appends_and_refuses_writes_after_close(fs: InMemoryFileSystem) -> None:
    writer = open_writer(fs, PATH)
    writer.write(b"one")
    writer.close()
    again = open_writer(fs, PATH, append=True)
    again.write_many([b"two", b"three"])
    again.close()

    assert list(iter_records(fs, PATH)) == [b"one", b"two", b"three"]
    with pytest.raises(BrokenPipeError):
        writer.write(b"late")


def test_a_flipped_data_byte_names_the_file_and_offset(fs: InMemoryFileSystem) -> None:
    data = bytearray(frame(b"first") + frame(b"second") + frame(b"third"))
    second_at = len(frame(b"first"))
    data[second_at + 12] ^= 0xFF
    _put(fs, bytes(data))

    with pytest.raises(CorruptRecordError) as info:
        list(iter_records(fs, PATH))

    assert PATH in str(info.value)
    assert f"byte offset {second_at}" in str(info.value)
    assert "data CRC" in str(info.value)


def test_a_truncated_file_is_corrupt_at_the_last_record(fs: InMemoryFileSystem) -> None:
    data = frame(b"whole") + frame(b"cut short")
    _put(fs, data[:-3])

    with pytest.raises(CorruptRecordError, match=f"byte offset {len(frame(b'whole'))}"):
        list(iter_records(fs, PATH))


def test_skip_corrupt_skips_and_counts_bad_records(fs: InMemoryFileSystem) -> None:
    good = [frame(b"r%d" % i) for i in range(5)]
    bad_data = bytearray(good[1])
    bad_data[-1] ^= 1
    bad_length = bytearray(good[3])
    bad_length[2] ^= 0x40
    _put(fs, good[0] + bytes(bad_data) + good[2] + bytes(bad_length) + good[4])
    stats = ReadStats()

    got = list(iter_records(fs, PATH, skip_corrupt=True, stats=stats))

    assert got == [b"r0", b"r2", b"r4"]
    assert stats.corrupt == 2
    assert stats.records == 3


def test_skip_corrupt_counts_a_truncated_tail(fs: InMemoryFileSystem) -> None:
    data = frame(b"ok") + frame(b"partial")[:-2]
    _put(fs, data)
    stats = ReadStats()

    got = list(iter_records(fs, PATH, skip_corrupt=True, stats=stats))

    assert got == [b"ok"]
    assert stats.corrupt == 1


def test_unverified_reading_ignores_bad_crcs(fs: InMemoryFileSystem) -> None:
    data = bytearray(frame(b"payload"))
    data[-1] ^= 1
    _put(fs, bytes(data))

    assert list(iter_records(fs, PATH, verify=False)) == [b"payload"]


def test_garbage_that_is_not_gzip_is_a_corrupt_record_error(
    fs: InMemoryFileSystem,
) -> None:
    _put(fs, b"definitely not gzip data", path="memory://x.gz")

    with pytest.raises(CorruptRecordError, match="memory://x.gz"):
        list(iter_records(fs, "memory://x.gz", compression="GZIP"))


def test_auto_compression_picks_gzip_by_suffix(fs: InMemoryFileSystem) -> None:
    write_records(fs, "memory://d/a.tfrecord.gz", [b"zipped"], compression="GZIP")

    assert list(iter_records(fs, "memory://d/a.tfrecord.gz")) == [b"zipped"]
