"""``.npy`` files with a CRC-32C: what a read checks, in one chunk or many."""

from __future__ import annotations

import numpy as np
import pytest

from monolith.adapters.parameters import npy_files
from monolith.adapters.parameters.npy_files import read_npy, write_npy
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.domain.errors import ParameterStoreError

pytestmark = pytest.mark.unit

PATH = "memory://npy/a.npy"


@pytest.fixture(params=[1 << 24, 64], ids=["one chunk", "many chunks"])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(npy_files, "_CHUNK", request.param)
    return int(request.param)


def _rewrite(fs: InMemoryFileSystem, data: bytes) -> None:
    with fs.atomic_write(PATH) as handle:
        handle.write(data)


def _read(fs: InMemoryFileSystem) -> bytes:
    with fs.open(PATH) as handle:
        return handle.read()


def test_an_array_reads_back_equal_and_loads_with_plain_numpy(chunk: int) -> None:
    fs = InMemoryFileSystem()
    array = np.arange(1000, dtype=np.float32).reshape(250, 4)

    record = write_npy(fs, PATH, array)

    assert np.array_equal(read_npy(fs, PATH, record), array)
    with fs.open(PATH) as handle:
        assert np.array_equal(np.load(handle, allow_pickle=False), array)


def test_a_flipped_byte_anywhere_fails_the_checksum(chunk: int) -> None:
    fs = InMemoryFileSystem()
    record = write_npy(fs, PATH, np.arange(1000, dtype=np.int64))
    data = bytearray(_read(fs))
    data[len(data) // 2] ^= 0x01
    _rewrite(fs, bytes(data))

    with pytest.raises(ParameterStoreError, match="fails its CRC-32C check"):
        read_npy(fs, PATH, record)


def test_a_truncated_file_names_how_much_data_it_has(chunk: int) -> None:
    fs = InMemoryFileSystem()
    record = write_npy(fs, PATH, np.arange(1000, dtype=np.int64))
    _rewrite(fs, _read(fs)[:-800])

    with pytest.raises(ParameterStoreError, match="truncated: 7200 of 8000"):
        read_npy(fs, PATH, record)


def test_a_missing_file_is_an_incomplete_snapshot() -> None:
    fs = InMemoryFileSystem()
    record = write_npy(fs, PATH, np.zeros(4, np.float32))
    fs.remove(PATH)

    with pytest.raises(ParameterStoreError, match="listed in its checksum file"):
        read_npy(fs, PATH, record)
