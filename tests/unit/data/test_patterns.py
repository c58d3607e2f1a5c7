from __future__ import annotations

import pytest

from monolith.domain.errors import NotFoundError, UsageError
from monolith.domain.globbing import compile_glob
from monolith.domain.patterns import expand_patterns, shard_files

pytestmark = pytest.mark.unit

FILES = ["/d/a-1", "/d/a-10", "/d/a-2", "/d/b-1", "/e/x"]
LISTS = {"/lists/train.txt": "# train files\n/d/b-1\n\n/d/a-*\n", "/lists/empty": "#\n"}


def _glob(pattern: str) -> list[str]:
    regex = compile_glob(pattern)
    return sorted(f for f in FILES if regex.fullmatch(f))


def _expand(spec: str) -> list[str]:
    return expand_patterns(
        spec,
        glob=_glob,
        read_text=LISTS.__getitem__,
        exists=lambda p: p in FILES or p in LISTS,
    )


def test_globs_expand_sorted_and_comma_items_keep_their_order() -> None:
    assert _expand("/e/x, /d/a-*") == ["/e/x", "/d/a-1", "/d/a-10", "/d/a-2"]


def test_duplicates_keep_their_first_appearance() -> None:
    assert _expand("/d/b-1,/d/*,/d/a-1") == ["/d/b-1", "/d/a-1", "/d/a-10", "/d/a-2"]


def test_a_filelist_names_one_item_per_line_skipping_comments() -> None:
    assert _expand("@/lists/train.txt") == ["/d/b-1", "/d/a-1", "/d/a-10", "/d/a-2"]


def test_an_item_matching_nothing_is_an_error_naming_it() -> None:
    with pytest.raises(NotFoundError, match=r"'/d/zz-\*' matches no file"):
        _expand("/d/a-*,/d/zz-*")


def test_a_missing_plain_path_is_an_error_naming_it() -> None:
    with pytest.raises(NotFoundError, match="'/nope'"):
        _expand("/nope")


def test_a_missing_or_empty_filelist_is_an_error() -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        _expand("@/lists/missing")
    with pytest.raises(NotFoundError, match="names no file"):
        _expand("@/lists/empty")


def test_an_empty_spec_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        _expand(" , ")


def test_sharding_takes_every_nth_file() -> None:
    assert shard_files(FILES, 1, 2) == ["/d/a-10", "/d/b-1"]


def test_a_worker_index_out_of_range_is_an_error() -> None:
    with pytest.raises(UsageError, match="out of range for 2 workers"):
        shard_files(FILES, 2, 2)


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("/a/*.rec", "/a/x.rec", True),
        ("/a/*.rec", "/a/b/x.rec", False),
        ("/a/*", "/a/.hidden", False),
        ("/a/.*", "/a/.hidden", True),
        ("/a/[!x]?", "/a/yz", True),
        ("/a/[!x]?", "/a/xz", False),
        ("/a/[", "/a/[", True),
    ],
    ids=[
        "star",
        "no-slash",
        "hidden",
        "dot",
        "negated",
        "negated-miss",
        "lone-bracket",
    ],
)
def test_glob_rules_follow_pythons_glob(pattern: str, path: str, hit: bool) -> None:
    assert bool(compile_glob(pattern).fullmatch(path)) is hit
