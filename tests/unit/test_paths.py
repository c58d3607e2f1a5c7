"""URI-aware path rules (decision 6, BEHAVIOUR.md §9.5)."""

from __future__ import annotations

import os.path

import pytest

from monolith.domain.paths import isabs, join, scheme

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "path",
    ["hdfs:/a", "hdfs://nn/a", "HDFS://nn/a", "s3://bucket/k", "file:///tmp/x", "/tmp"],
)
def test_uris_hdfs_short_paths_and_absolute_local_paths_are_absolute(path: str) -> None:
    assert isabs(path)


@pytest.mark.parametrize("path", ["a/b", "", "hdfs", "hdfsx/a", "./a", "c:relative"])
def test_relative_paths_are_not_absolute(path: str) -> None:
    assert not isabs(path)


def test_isabs_does_not_patch_os_path() -> None:
    assert not os.path.isabs("hdfs:/a")


@pytest.mark.parametrize(
    ("path", "expected"),
    [("hdfs:/a", "hdfs"), ("hdfs://nn/a", "hdfs"), ("S3://b/k", "s3"), ("/a", None)],
)
def test_scheme_is_lower_case_or_none(path: str, expected: str | None) -> None:
    assert scheme(path) == expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("hdfs://nn/m", "checkpoint-5.json"), "hdfs://nn/m/checkpoint-5.json"),
        (("/m/", "a", "b"), "/m/a/b"),
        (("m", "/abs"), "/abs"),
        (("m", "hdfs:/x"), "hdfs:/x"),
        (("", "a"), "a"),
    ],
    ids=["uri", "trailing-slash", "absolute-local-part", "absolute-uri-part", "empty"],
)
def test_join_keeps_uri_prefixes_and_restarts_at_absolute_parts(
    parts: tuple[str, ...], expected: str
) -> None:
    assert join(*parts) == expected
