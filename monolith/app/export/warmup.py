"""Copy warmup requests into ``assets.extra/`` without letting any path escape.

A warmup source is a file (copied as ``assets.extra/tf_serving_warmup_requests``)
or a directory (every file below it, keeping relative paths). Refused: a
symlink whose target lies outside the source (outside the file's own
directory for a single file), a relative path that climbs out with ``..``,
and any destination name that would climb out of ``assets.extra/``.
Files are copied by content; no symlink is ever written into an export.
"""

from __future__ import annotations

import logging
import os
import shutil

from monolith.domain.errors import NotFoundError, UsageError
from monolith.domain.export_layout import (
    ASSETS_EXTRA,
    WARMUP_FILE_NAME,
    check_relative_asset,
    is_inside,
)
from monolith.domain.paths import join
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)


def _refuse_symlink_out(path: str, root: str) -> str:
    real = os.path.realpath(path)
    if os.path.islink(path) and not is_inside(root, real):
        raise UsageError(
            f"warmup path {path} is a symlink to {real}, outside {root}; "
            "copy the file in instead of linking it"
        )
    return real


def _copy_one(source_real: str, relative: str, version_dir: str, fs: FileSystem) -> str:
    name = check_relative_asset(relative)
    destination = join(version_dir, ASSETS_EXTRA, name)
    with open(source_real, "rb") as source, fs.atomic_write(destination) as handle:
        shutil.copyfileobj(source, handle)
    return f"{ASSETS_EXTRA}/{name}"


def copy_warmup(source: str, version_dir: str, fs: FileSystem) -> list[str]:
    """Copy ``source`` below ``version_dir/assets.extra``; return relative paths.

    ``source`` is a local file or directory; ``version_dir`` is written
    through ``fs`` (any storage backend).

    Raises:
        NotFoundError: ``source`` does not exist.
        UsageError: a path or symlink would escape (see the module docstring).
    """
    if not os.path.lexists(source):
        raise NotFoundError(f"warmup file {source} does not exist")
    if not os.path.isdir(source):
        root = os.path.realpath(os.path.dirname(os.path.abspath(source)))
        real = _refuse_symlink_out(source, root)
        if not os.path.isfile(real):
            raise UsageError(f"warmup path {source} is not a regular file")
        return [_copy_one(real, WARMUP_FILE_NAME, version_dir, fs)]
    root = os.path.realpath(source)
    if os.path.islink(source.rstrip("/")):
        _refuse_symlink_out(source.rstrip("/"), os.path.dirname(root))
    copied: list[str] = []
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                _refuse_symlink_out(path, root)
                raise UsageError(
                    f"warmup path {path} is a symlinked directory; only files "
                    "and plain directories are copied"
                )
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            real = _refuse_symlink_out(path, root)
            relative = os.path.relpath(path, source).replace(os.sep, "/")
            copied.append(_copy_one(real, relative, version_dir, fs))
    if not copied:
        raise UsageError(f"warmup directory {source} holds no files")
    logger.info("warmup copied files=%d source=%s", len(copied), source)
    return copied
