from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.adapters.data.example_decode import ExampleDecoder
from monolith.adapters.data.example_encode import ExampleEncoder, encode_varints
from monolith.adapters.data.example_reference import Decoded, decode_reference
from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.errors import ConfigError
from monolith.domain.feature_spec import FeatureSpec
from monolith.proto import example_pb2

pytestmark = pytest.mark.unit

SPEC = FeatureSpec(
    sparse=("user_id", "item", "a_much_longer_slot_name_than_eight"),
    dense=("price", "age"),
    label="label",
)

int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _example(
    sparse: dict[str, list[int]], floats: dict[str, list[float]], extra: bool = False
) -> bytes:
    example = example_pb2.Example()
    for name, values in sparse.items():
        example.features.feature[name].int64_list.value.extend(values)
    for name, values in floats.items():
        example.features.feature[name].float_list.value.extend(values)
    if extra:
        example.features.feature["ignored"].bytes_list.value.append(b"blob")
        example.features.feature["ignored_f"].float_list.value.extend([1.0, 2.0])
    return example.SerializeToString()


@st.composite
def examples(draw: st.DrawFn) -> bytes:
    sparse = {}
    for name in SPEC.sparse:
        if draw(st.booleans()) or name == "item":
            sparse[name] = draw(st.lists(int64s, max_size=5))
    floats = {
        name: [draw(st.floats(width=32, allow_nan=False))]
        for name in (*SPEC.dense, SPEC.label)
    }
    return _example(sparse, floats, extra=draw(st.booleans()))


def _assert_same(a: Decoded, b: Decoded) -> None:
    assert a.bad == b.bad
    assert a.kept.tolist() == b.kept.tolist()
    for name in SPEC.sparse:
        assert (
            a.batch.sparse[name].values.tolist() == b.batch.sparse[name].values.tolist()
        )
        assert (
            a.batch.sparse[name].row_splits.tolist()
            == b.batch.sparse[name].row_splits.tolist()
        )
    assert a.batch.dense.shape == b.batch.dense.shape
    np.testing.assert_array_equal(a.batch.dense, b.batch.dense)
    np.testing.assert_array_equal(a.batch.label, b.batch.label)


@settings(max_examples=100, deadline=None)
@given(st.lists(examples(), min_size=1, max_size=30))
def test_the_fast_route_matches_protobuf_parsing(records: list[bytes]) -> None:
    decoder = ExampleDecoder(SPEC)

    fast = decoder.decode(records)

    assert decoder.fast_batches == 1
    _assert_same(fast, decode_reference(records, SPEC))


def test_a_missing_label_is_reported_with_the_record_index() -> None:
    good = _example({"item": [1]}, {"price": [1.0], "age": [2.0], "label": [1.0]})
    no_label = _example({"item": [2]}, {"price": [1.0], "age": [2.0]})

    result = ExampleDecoder(SPEC).decode([good, no_label, good])

    assert result.bad == ((1, "feature 'label' is missing"),)
    assert result.batch.size == 2
    assert result.kept.tolist() == [0, 2]
    _assert_same(result, decode_reference([good, no_label, good], SPEC))


def test_a_sparse_slot_of_the_wrong_type_is_bad() -> None:
    wrong = _example({}, {"item": [1.5], "price": [1.0], "age": [2.0], "label": [0.0]})

    result = ExampleDecoder(SPEC).decode([wrong])

    assert result.bad == (
        (0, "sparse feature 'item' is a float_list, expected int64_list"),
    )
    _assert_same(result, decode_reference([wrong], SPEC))


def test_a_dense_feature_with_two_values_is_bad() -> None:
    wrong = _example({"item": [1]}, {"price": [1.0, 2.0], "age": [2.0], "label": [0.0]})

    result = ExampleDecoder(SPEC).decode([wrong])

    assert result.bad[0][1] == (
        "feature 'price' is a float_list of 2 values, "
        "expected a float_list with one value"
    )
    _assert_same(result, decode_reference([wrong], SPEC))


def test_garbage_bytes_fall_back_and_are_reported() -> None:
    good = _example({"item": [1]}, {"price": [1.0], "age": [2.0], "label": [1.0]})
    decoder = ExampleDecoder(SPEC)

    result = decoder.decode([good, b"\xff\xff\xff"])

    assert decoder.reference_batches == 1
    assert [index for index, _ in result.bad] == [1]
    assert "not a tf.train.Example" in result.bad[0][1]


def test_unpacked_lists_fall_back_to_protobuf_with_the_same_result() -> None:
    # int64_list.value written unpacked: tag 0x08 per value (legal wire format).
    unpacked_list = b"\x08\x05\x08\x07"
    feature = b"\x1a" + bytes([len(unpacked_list)]) + unpacked_list
    key = b"item"
    entry = (
        b"\x0a" + bytes([len(key)]) + key + b"\x12" + bytes([len(feature)]) + feature
    )
    entries = b"\x0a" + bytes([len(entry)]) + entry
    rest = _example({}, {"price": [1.0], "age": [2.0], "label": [1.0]})[2:]
    features = entries + rest
    record = b"\x0a" + bytes([len(features)]) + features
    decoder = ExampleDecoder(SPEC)

    result = decoder.decode([record])

    assert decoder.reference_batches == 1
    assert result.batch.sparse["item"].values.tolist() == [5, 7]


def test_an_empty_record_list_gives_an_empty_batch() -> None:
    result = ExampleDecoder(SPEC).decode([])

    assert result.batch.size == 0
    assert result.batch.dense.shape == (0, 2)


def test_duplicate_names_in_a_spec_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="distinct"):
        ExampleDecoder(FeatureSpec(sparse=("a",), dense=("a",)))


def test_encoding_then_decoding_returns_the_batch() -> None:
    spec = FeatureSpec(sparse=("s",), dense=("d",), label="label")
    batch = Batch(
        sparse={"s": RaggedFids.from_lists([[1, -1, 2**62], [], [300]])},
        dense=np.array([[0.5], [-1.0], [3.25]], dtype=np.float32),
        label=np.array([1.0, 0.0, 1.0], dtype=np.float32),
    )

    result = ExampleDecoder(spec).decode(ExampleEncoder(spec).encode(batch))

    assert result.batch.sparse["s"].values.tolist() == [1, -1, 2**62, 300]
    assert result.batch.sparse["s"].row_splits.tolist() == [0, 3, 3, 4]
    assert result.batch.dense.tolist() == [[0.5], [-1.0], [3.25]]


@settings(max_examples=100, deadline=None)
@given(st.lists(int64s, max_size=40))
def test_vectorised_varints_match_protobuf(values: list[int]) -> None:
    data, lengths = encode_varints(np.array(values, dtype=np.int64))

    packed = example_pb2.Int64List(value=values).SerializeToString()

    assert lengths.sum() == len(data)
    assert (b"" if not values else packed[2 if len(data) < 128 else 3 :]) == data


def test_long_fid_lists_take_the_scanning_route_and_still_match() -> None:
    rng = np.random.default_rng(3)
    floats = {"price": [1.0], "age": [2.0], "label": [1.0]}
    records = [
        _example(
            {
                "item": rng.integers(-(2**62), 2**62, size=int(n)).tolist(),
                "user_id": list(range(int(n))),
            },
            floats,
        )
        for n in rng.integers(0, 300, size=20)
    ]
    decoder = ExampleDecoder(SPEC)

    fast = decoder.decode(records)

    assert decoder.fast_batches == 1
    _assert_same(fast, decode_reference(records, SPEC))


def test_a_record_with_several_problems_gets_the_reference_reason() -> None:
    records = [
        _example({}, {"item": [1.0], "user_id": [2.0], "age": [2.0]}),
        _example({"item": [1]}, {"age": [1.0, 2.0]}),
        _example({"item": [1]}, {"price": [1.0], "age": [1.0, 2.0]}),
    ]

    fast = ExampleDecoder(SPEC).decode(records)

    _assert_same(fast, decode_reference(records, SPEC))
    assert fast.bad[0][1].startswith("sparse feature 'user_id'")
    assert fast.bad[1][1] == "feature 'price' is missing"
