from __future__ import annotations

import numpy as np
import pytest

from monolith.app.storage import filesystem_for
from monolith.domain.errors import UsageError
from monolith.domain.fids import make_fid, make_fids, slot_of, slots_of, v1_to_v2
from monolith.domain.storage_uri import parse_uri

pytestmark = pytest.mark.unit


def test_a_v2_fid_keeps_its_slot_in_the_top_16_bits() -> None:
    fid = make_fid(3, 12345)

    assert fid == (3 << 48) | 12345
    assert slot_of(fid) == 3


def test_signatures_are_masked_to_48_bits() -> None:
    assert make_fid(1, (1 << 60) | 7) == (1 << 48) | 7


def test_vectorised_helpers_agree_with_scalar_ones() -> None:
    sigs = np.array([0, 5, (1 << 48) - 1], dtype=np.int64)

    fids = make_fids(9, sigs)

    assert fids.tolist() == [make_fid(9, int(s)) for s in sigs]
    assert slots_of(fids).tolist() == [9, 9, 9]


def test_slots_out_of_range_are_refused() -> None:
    with pytest.raises(UsageError, match="0..32767"):
        make_fid(1 << 15, 1)


def test_v1_to_v2_keeps_the_slot() -> None:
    v1 = (5 << 54) | 99

    assert slot_of(v1_to_v2(v1)) == 5


@pytest.mark.parametrize(
    ("uri", "scheme", "authority", "path"),
    [
        ("/a/b", "file", "", "/a/b"),
        ("rel/x", "file", "", "rel/x"),
        ("file:///a/b", "file", "", "/a/b"),
        ("memory://bucket/k", "memory", "", "/bucket/k"),
        ("hdfs://nn:9870/user/x", "hdfs", "nn:9870", "/user/x"),
        ("hdfs:/user/x", "hdfs", "", "/user/x"),
    ],
    ids=["abs", "rel", "file", "memory", "hdfs", "hdfs-default"],
)
def test_uris_split_into_scheme_authority_and_path(
    uri: str, scheme: str, authority: str, path: str
) -> None:
    parsed = parse_uri(uri)

    assert (parsed.scheme, parsed.authority, parsed.path) == (scheme, authority, path)
    assert parsed.with_path(parsed.path) == uri


def test_an_unknown_scheme_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="s3"):
        parse_uri("s3://bucket/key")


def test_the_adapter_is_chosen_by_scheme() -> None:
    assert type(filesystem_for("/tmp/x")).__name__ == "LocalFileSystem"
    assert type(filesystem_for("memory://x")).__name__ == "InMemoryFileSystem"
    assert filesystem_for("memory://a") is filesystem_for("memory://b")
    assert type(filesystem_for("hdfs://127.0.0.1:1/x")).__name__ == "WebHdfsFileSystem"


def test_hdfs_without_a_namenode_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="MONOLITH_HDFS_NAMENODE"):
        filesystem_for("hdfs:/x", environ={})


def test_the_container_builds_webhdfs_for_an_hdfs_model_dir() -> None:
    from monolith.app.container import Container
    from monolith.domain.config import RunConfig

    container = Container.from_config(
        RunConfig(storage="hdfs", model_dir="hdfs://127.0.0.1:9870/models/m")
    )

    storage = container.storage()
    assert type(storage).__name__ == "WebHdfsFileSystem"
    assert storage.authority == "127.0.0.1:9870"
