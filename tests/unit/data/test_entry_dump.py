from __future__ import annotations

import numpy as np
import pytest

from monolith.adapters.data.writable_file import WritableFile, iter_entry_dumps
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.proto import entry_dump_pb2

pytestmark = pytest.mark.unit

PATH = "memory://dump/new/dir/MonolithHashTable_cached_item_embeddings-00000-of-00001"


@pytest.fixture
def fs() -> InMemoryFileSystem:
    return InMemoryFileSystem()


def test_each_row_becomes_one_entry_dump_record(fs: InMemoryFileSystem) -> None:
    with WritableFile(fs, PATH) as out:
        out.append_entry_dump([7, 8], [0.5, 0.25], [[1, 2], [3, 4]])

    dumps = list(iter_entry_dumps(fs, PATH))

    assert [(d.id, list(d.num)) for d in dumps] == [(7, [0.5, 1, 2]), (8, [0.25, 3, 4])]
    assert not dumps[0].HasField("opt")


def test_the_bytes_match_protobuf_serialization(fs: InMemoryFileSystem) -> None:
    with WritableFile(fs, PATH) as out:
        out.append_entry_dump(np.array([-5]), np.array([1.5]), np.array([2.0, 3.0]), 99)

    expected = entry_dump_pb2.EntryDump(
        id=-5, num=[1.5, 2.0, 3.0], last_update_ts_sec=99
    )
    from monolith.adapters.data.tfrecord import iter_records

    assert list(iter_records(fs, PATH)) == [expected.SerializeToString()]


def test_raw_appends_concatenate(fs: InMemoryFileSystem) -> None:
    out = WritableFile(fs, PATH)
    for _ in range(1000):
        out.append(b"1234")
    out.close()

    with fs.open(PATH, "rb") as handle:
        assert handle.read() == b"1234" * 1000


@pytest.mark.parametrize(
    ("ids", "bias", "embedding", "message"),
    [
        ([], [], [], r"at least one id, got shape \(0,\)"),
        (
            [1, 2],
            [0.1, 0.2],
            [1, 2, 3, 4, 5],
            r"embedding has shape \(5,\), expected \(2, dim\)",
        ),
        ([1, 2], [0.1], [[1], [2]], r"bias has shape \(1,\), expected \(2,\)"),
        (
            [1, 2],
            [0.1, 0.2],
            [[1, 2, 3]],
            r"embedding has shape \(1, 3\), expected \(2, dim\)",
        ),
    ],
    ids=["empty", "not-divisible", "short-bias", "wrong-rows"],
)
def test_wrong_shapes_are_value_errors_naming_both_shapes(
    fs: InMemoryFileSystem,
    ids: list[int],
    bias: list[float],
    embedding: object,
    message: str,
) -> None:
    out = WritableFile(fs, PATH)

    with pytest.raises(ValueError, match=message):
        out.append_entry_dump(ids, bias, embedding)


def test_appending_after_close_is_a_broken_pipe(fs: InMemoryFileSystem) -> None:
    out = WritableFile(fs, PATH)
    out.close()

    with pytest.raises(BrokenPipeError):
        out.append(b"x")
    with pytest.raises(BrokenPipeError):
        out.append_entry_dump([1], [0.0], [[1.0]])
