"""Path rules shared by local and remote storage (decision 6).

A path is absolute when it starts with a URI scheme (``hdfs://nn/a``,
``s3://bucket/k``, ``file:///tmp``), with the HDFS short form ``hdfs:/a``, or
when the local platform says so (``/tmp``). These are plain functions:
nothing here patches :mod:`os.path`.
"""

from __future__ import annotations

import logging
import os.path
import re

logger = logging.getLogger(__name__)

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_HDFS_SHORT_PREFIX = "hdfs:/"


def scheme(path: str) -> str | None:
    """The URI scheme of ``path`` in lower case, or None for a plain path.

    Args:
        path: A local path or a URI.

    Returns:
        ``"hdfs"`` for both ``hdfs://nn/a`` and ``hdfs:/a``, ``"s3"`` for
        ``s3://b/k``, None for ``/tmp/a`` or ``a/b``.
    """
    match = _SCHEME_RE.match(path)
    if match:
        return match.group(1).lower()
    if path.lower().startswith(_HDFS_SHORT_PREFIX):
        return "hdfs"
    return None


def isabs(path: str) -> bool:
    """Whether ``path`` is absolute, treating URIs and ``hdfs:/`` as absolute.

    Args:
        path: A local path or a URI.

    Returns:
        True for ``hdfs:/a``, ``hdfs://nn/a``, any ``scheme://...`` and an
        absolute local path; False for a relative local path.
    """
    return scheme(path) is not None or os.path.isabs(path)


def join(base: str, *names: str) -> str:
    """Join path components with ``/``, keeping any URI prefix of ``base``.

    A component that is itself absolute (by :func:`isabs`) replaces what came
    before it, as :func:`os.path.join` does.

    Args:
        base: The directory or URI to start from.
        *names: Components to append.

    Returns:
        The joined path, e.g. ``join("hdfs://nn/m", "checkpoint-5.json")`` is
        ``"hdfs://nn/m/checkpoint-5.json"``.
    """
    result = base
    for name in names:
        if isabs(name) or not result:
            result = name
        elif result.endswith("/"):
            result += name
        else:
            result += "/" + name
    return result
