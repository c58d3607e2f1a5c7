from __future__ import annotations

import json

import numpy as np
import pytest

from monolith.adapters.data.example_encode import ExampleEncoder
from monolith.adapters.data.tfrecord import frame, write_records
from monolith.adapters.storage.memory import InMemoryFileSystem
from monolith.app.data.pipeline import PipelineStats, make_batches, read_meta
from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.errors import CorruptRecordError, DataError, NotFoundError
from monolith.domain.feature_spec import FeatureSpec
from monolith.proto import example_pb2

pytestmark = pytest.mark.unit

SPEC = FeatureSpec(sparse=("s",), dense=("d",), label="label")


def _records(ids: range) -> list[bytes]:
    batch = Batch(
        sparse={"s": RaggedFids.from_lists([[i] for i in ids])},
        dense=np.array([[float(i)] for i in ids], dtype=np.float32),
        label=np.array([i % 2 for i in ids], dtype=np.float32),
    )
    return ExampleEncoder(SPEC).encode(batch)


@pytest.fixture
def fs() -> InMemoryFileSystem:
    fs = InMemoryFileSystem()
    for k in range(4):
        write_records(
            fs, f"memory://data/part-{k}.tfrecord", _records(range(k * 10, k * 10 + 10))
        )
    return fs


def _ids(batches: list[Batch]) -> list[int]:
    return [int(v) for b in batches for v in b.sparse["s"].values]


def test_one_epoch_yields_every_example_once_in_full_batches(
    fs: InMemoryFileSystem,
) -> None:
    batches = list(make_batches(fs, "memory://data/part-*", SPEC, 16))

    assert [b.size for b in batches] == [16, 16, 8]
    assert sorted(_ids(batches)) == list(range(40))
    assert all(b.dense[:, 0].tolist() == b.sparse["s"].values.tolist() for b in batches)


def test_files_are_interleaved_round_robin(fs: InMemoryFileSystem) -> None:
    batches = list(make_batches(fs, "memory://data/part-*", SPEC, 40, cycle_length=2))

    ids = _ids(batches)
    assert ids[:20] == list(range(10)) + list(range(10, 20))
    assert sorted(ids) == list(range(40))


def test_drop_remainder_drops_the_short_last_batch(fs: InMemoryFileSystem) -> None:
    batches = list(
        make_batches(fs, "memory://data/part-*", SPEC, 16, drop_remainder=True)
    )

    assert [b.size for b in batches] == [16, 16]


def test_epochs_repeat_the_data(fs: InMemoryFileSystem) -> None:
    batches = list(
        make_batches(fs, "memory://data/part-0.tfrecord", SPEC, 10, epochs=3)
    )

    assert _ids(batches) == list(range(10)) * 3


def test_workers_read_disjoint_file_shards(fs: InMemoryFileSystem) -> None:
    seen = [
        set(
            _ids(
                list(
                    make_batches(
                        fs, "memory://data/*", SPEC, 8, worker_index=w, num_workers=2
                    )
                )
            )
        )
        for w in range(2)
    ]

    assert seen[0].isdisjoint(seen[1])
    assert seen[0] | seen[1] == set(range(40))
    assert seen[0] == set(range(10)) | set(range(20, 30))


def test_with_fewer_files_than_workers_records_are_sharded(
    fs: InMemoryFileSystem,
) -> None:
    seen = [
        _ids(
            list(
                make_batches(
                    fs,
                    "memory://data/part-0.tfrecord",
                    SPEC,
                    4,
                    worker_index=w,
                    num_workers=3,
                )
            )
        )
        for w in range(3)
    ]

    assert seen == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]


def test_the_shuffle_is_seeded_and_a_permutation(fs: InMemoryFileSystem) -> None:
    def run(seed: int) -> list[int]:
        return _ids(
            list(
                make_batches(
                    fs, "memory://data/*", SPEC, 7, shuffle_buffer=16, seed=seed
                )
            )
        )

    first, again, other = run(1), run(1), run(2)

    assert first == again
    assert first != other
    assert sorted(first) == list(range(40))
    assert first != sorted(first)


def test_a_pattern_matching_nothing_fails_when_the_pipeline_is_built(
    fs: InMemoryFileSystem,
) -> None:
    with pytest.raises(NotFoundError, match="memory://nothing/\\*"):
        make_batches(fs, "memory://data/*,memory://nothing/*", SPEC, 8)


def test_a_bad_example_names_the_file_and_record_index(fs: InMemoryFileSystem) -> None:
    bad = example_pb2.Example()
    bad.features.feature["s"].int64_list.value.append(1)
    records = _records(range(3))
    records.insert(2, bad.SerializeToString())
    write_records(fs, "memory://bad/part-0", records)

    with pytest.raises(
        DataError, match=r"memory://bad/part-0: record 2: feature 'd' is missing"
    ):
        list(make_batches(fs, "memory://bad/*", SPEC, 2))


def test_skip_corrupt_skips_bad_examples_and_corrupt_records_and_counts_them(
    fs: InMemoryFileSystem,
) -> None:
    good = _records(range(6))
    data = bytearray(b"".join(frame(r) for r in good[:3]))
    data[-1] ^= 0xFF  # third record's CRC
    with fs.open("memory://mixed/part-0", "wb") as handle:
        handle.write(
            bytes(data) + frame(b"\x0a\x00") + b"".join(frame(r) for r in good[3:])
        )
    stats = PipelineStats()

    batches = list(
        make_batches(fs, "memory://mixed/*", SPEC, 2, skip_corrupt=True, stats=stats)
    )

    assert _ids(batches) == [0, 1, 3, 4, 5]
    assert [b.size for b in batches] == [2, 2, 1]
    assert stats.corrupt_records == 1
    assert stats.bad_examples == 1


def test_a_corrupt_record_raises_without_skip(fs: InMemoryFileSystem) -> None:
    data = bytearray(frame(_records(range(1))[0]))
    data[-1] ^= 1
    with fs.open("memory://c/part-0", "wb") as handle:
        handle.write(bytes(data))

    with pytest.raises(CorruptRecordError, match="memory://c/part-0.*byte offset 0"):
        list(make_batches(fs, "memory://c/*", SPEC, 2))


def test_read_meta_returns_the_json_object(fs: InMemoryFileSystem) -> None:
    with fs.open("memory://gen/meta.json", "wb") as handle:
        handle.write(json.dumps({"seed": 3}).encode())

    assert read_meta(fs, "memory://gen") == {"seed": 3}
    with pytest.raises(NotFoundError, match="datagen"):
        read_meta(fs, "memory://nowhere")


def test_files_without_records_are_a_data_error_not_an_endless_loop(
    fs: InMemoryFileSystem,
) -> None:
    write_records(fs, "memory://empty/part-0", [])

    with pytest.raises(DataError, match="hold no records"):
        list(make_batches(fs, "memory://empty/*", SPEC, 4, epochs=None))
