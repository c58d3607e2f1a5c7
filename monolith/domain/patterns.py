"""Expanding a data pattern spec into a deterministic file list (decision 10).

A spec is a comma-separated list of items. An item is a path, a glob, or
``@file``: a file holding one path or glob per line (blank lines and ``#``
comments skipped). Globs expand in sorted order; the result keeps the first
appearance of each file and drops later duplicates. An item matching nothing
is an error naming that item, raised here, when the dataset is built.

I/O is injected: ``glob`` lists matches of one pattern, ``read_text`` reads a
``@file``, ``exists`` tells whether a plain path exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monolith.domain.errors import NotFoundError, UsageError
from monolith.domain.globbing import has_magic


def split_items(spec: str) -> list[str]:
    """The comma-separated items of ``spec``, stripped, empty ones dropped."""
    return [item.strip() for item in spec.split(",") if item.strip()]


def _filelist_items(text: str) -> list[str]:
    items = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            items.extend(split_items(line))
    return items


def expand_patterns(
    spec: str | Sequence[str],
    *,
    glob: Callable[[str], list[str]],
    read_text: Callable[[str], str],
    exists: Callable[[str], bool],
) -> list[str]:
    """Expand a pattern spec into a de-duplicated, ordered list of files.

    Args:
        spec: ``"a/*.rec,b/part-0,@lists/train.txt"`` or a sequence of items.
        glob: sorted matches of one glob pattern.
        read_text: the text of a ``@file``.
        exists: whether a plain (non-glob) path exists.

    Returns:
        Files in spec order, each glob's matches sorted, first appearance kept.

    Raises:
        UsageError: if the spec is empty.
        NotFoundError: naming the first item that matches nothing.
    """
    items = split_items(spec) if isinstance(spec, str) else [s.strip() for s in spec]
    items = [i for i in items if i]
    if not items:
        raise UsageError(f"data pattern {spec!r} is empty: give paths or globs")
    files: list[str] = []
    seen: set[str] = set()

    def add(item: str, origin: str) -> None:
        if has_magic(item):
            matches = sorted(glob(item))
        else:
            matches = [item] if exists(item) else []
        if not matches:
            raise NotFoundError(f"data pattern item {item!r}{origin} matches no file")
        for path in matches:
            if path not in seen:
                seen.add(path)
                files.append(path)

    for item in items:
        if item.startswith("@"):
            listing = item[1:]
            if not exists(listing):
                raise NotFoundError(
                    f"data pattern file list {listing!r} does not exist"
                )
            inner = _filelist_items(read_text(listing))
            if not inner:
                raise NotFoundError(f"data pattern file list {listing!r} names no file")
            for sub in inner:
                add(sub, f" (from {item})")
        else:
            add(item, "")
    return files


def shard_files(files: Sequence[str], worker_index: int, num_workers: int) -> list[str]:
    """Every ``num_workers``-th file starting at ``worker_index``.

    Raises:
        UsageError: if the index is outside ``0..num_workers-1``.
    """
    if num_workers < 1 or not 0 <= worker_index < num_workers:
        raise UsageError(
            f"worker index {worker_index} is out of range for {num_workers} workers: "
            f"expected 0..{max(num_workers - 1, 0)}"
        )
    return list(files[worker_index::num_workers])
