"""Byte compatibility with TensorFlow's TFRecord and Example code, both ways."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monolith.adapters.data.example_decode import ExampleDecoder
from monolith.adapters.data.example_encode import ExampleEncoder
from monolith.adapters.data.tfrecord import iter_records, write_records
from monolith.adapters.storage.local import LocalFileSystem
from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.feature_spec import FeatureSpec

pytestmark = [pytest.mark.unit, pytest.mark.slow]

tf = pytest.importorskip("tensorflow")

RECORDS = [b"", b"x", bytes(range(256)) * 9, b"tail" * 1000]


@pytest.mark.parametrize(
    "compression", ["", "GZIP", "ZLIB"], ids=["none", "gzip", "zlib"]
)
def test_files_written_by_tensorflow_read_back_identically(
    tmp_path: Path, compression: str
) -> None:
    path = str(tmp_path / "tf.tfrecord")
    options = tf.io.TFRecordOptions(compression_type=compression)
    with tf.io.TFRecordWriter(path, options) as writer:
        for record in RECORDS:
            writer.write(record)

    got = list(iter_records(LocalFileSystem(), path, compression=compression))

    assert got == RECORDS


@pytest.mark.parametrize(
    "compression", ["", "GZIP", "ZLIB"], ids=["none", "gzip", "zlib"]
)
def test_files_we_write_read_back_in_tf_data(tmp_path: Path, compression: str) -> None:
    path = str(tmp_path / "ours.tfrecord")
    write_records(LocalFileSystem(), path, RECORDS, compression=compression)

    dataset = tf.data.TFRecordDataset(path, compression_type=compression)
    got = [t.numpy() for t in dataset]

    assert got == RECORDS


def test_uncompressed_files_are_byte_identical_to_tensorflows(tmp_path: Path) -> None:
    theirs = str(tmp_path / "tf.tfrecord")
    ours = str(tmp_path / "ours.tfrecord")
    with tf.io.TFRecordWriter(theirs) as writer:
        for record in RECORDS:
            writer.write(record)

    write_records(LocalFileSystem(), ours, RECORDS)

    assert Path(ours).read_bytes() == Path(theirs).read_bytes()


def test_examples_serialized_by_tensorflow_decode_like_parse_example() -> None:
    rng = np.random.default_rng(7)
    spec = FeatureSpec(sparse=("s1", "s2"), dense=("d",), label="label")
    records = []
    for _ in range(50):
        feature = {
            "s1": tf.train.Feature(
                int64_list=tf.train.Int64List(
                    value=rng.integers(
                        -(2**62), 2**62, size=rng.integers(0, 4)
                    ).tolist()
                )
            ),
            "s2": tf.train.Feature(
                int64_list=tf.train.Int64List(value=[int(rng.integers(0, 99))])
            ),
            "d": tf.train.Feature(
                float_list=tf.train.FloatList(value=[float(rng.normal())])
            ),
            "label": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0])),
            "unused": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"zz"])),
        }
        example = tf.train.Example(features=tf.train.Features(feature=feature))
        records.append(example.SerializeToString())
    parsed = tf.io.parse_example(
        tf.constant(records),
        {
            "s1": tf.io.RaggedFeature(tf.int64),
            "s2": tf.io.RaggedFeature(tf.int64),
            "d": tf.io.FixedLenFeature([], tf.float32),
            "label": tf.io.FixedLenFeature([], tf.float32),
        },
    )

    decoder = ExampleDecoder(spec)
    batch = decoder.decode(records).batch

    assert decoder.fast_batches == 1
    for name in ("s1", "s2"):
        assert (
            batch.sparse[name].values.tolist() == parsed[name].values.numpy().tolist()
        )
        assert (
            batch.sparse[name].row_splits.tolist()
            == parsed[name].row_splits.numpy().tolist()
        )
    assert batch.dense[:, 0].tolist() == parsed["d"].numpy().tolist()
    assert batch.label.tolist() == parsed["label"].numpy().tolist()


def test_examples_we_encode_parse_in_tensorflow() -> None:
    spec = FeatureSpec(sparse=("a",), dense=("x", "y"), label="label")
    batch = Batch(
        sparse={"a": RaggedFids.from_lists([[1, 2**50], [], [-3]])},
        dense=np.array([[0.5, 1.0], [2.0, 3.0], [4.0, 5.0]], dtype=np.float32),
        label=np.array([1.0, 0.0, 1.0], dtype=np.float32),
    )

    records = ExampleEncoder(spec).encode(batch)
    parsed = tf.io.parse_example(
        tf.constant(records),
        {
            "a": tf.io.RaggedFeature(tf.int64),
            "x": tf.io.FixedLenFeature([], tf.float32),
            "y": tf.io.FixedLenFeature([], tf.float32),
            "label": tf.io.FixedLenFeature([], tf.float32),
        },
    )

    assert parsed["a"].to_list() == [[1, 2**50], [], [-3]]
    assert parsed["y"].numpy().tolist() == [1.0, 3.0, 5.0]
    assert parsed["label"].numpy().tolist() == [1.0, 0.0, 1.0]
