"""Training and evaluation input: patterns to batches, sharded by worker.

The feature spec of a data set comes from the ``meta.json`` that
``monolith datagen`` writes beside its files (the directory of the first
file the pattern matches).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from monolith.app.training.local_cluster import BatchSource
from monolith.domain.batch import Batch
from monolith.domain.errors import DataError, NotFoundError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.paths import join
from monolith.domain.patterns import expand_patterns
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

META_NAME = "meta.json"
DEFAULT_SHUFFLE_BUFFER = 8192


def data_files(fs: FileSystem, pattern: str) -> list[str]:
    """The files a pattern names (decision 10)."""

    def read_text(path: str) -> str:
        with fs.open(path, "rb") as handle:
            return handle.read().decode("utf-8")

    return expand_patterns(pattern, glob=fs.glob, read_text=read_text, exists=fs.exists)


def data_meta(fs: FileSystem, pattern: str) -> dict[str, object] | None:
    """The ``meta.json`` beside the first file of ``pattern``, or None."""
    first = data_files(fs, pattern)[0]
    directory = first.rsplit("/", 1)[0] if "/" in first else "."
    path = join(directory, META_NAME)
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as handle:
        try:
            meta = json.loads(handle.read().decode("utf-8"))
        except ValueError as exc:
            raise DataError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise DataError(f"{path} must hold a JSON object")
    return meta


def features_of(fs: FileSystem, pattern: str) -> FeatureSpec:
    """The feature spec of the data ``pattern`` names.

    Raises:
        NotFoundError: the data has no ``meta.json`` with a feature spec.
    """
    meta = data_meta(fs, pattern)
    spec = None
    if meta is not None:
        spec = meta.get("feature_spec") or meta.get("features")
    if not isinstance(spec, dict):
        raise NotFoundError(
            f"data {pattern!r} has no meta.json with a 'feature_spec' beside its "
            "files: write one (see docs/training.md) or generate data with "
            "monolith datagen"
        )
    return FeatureSpec.from_dict(spec)


def training_source(
    fs: FileSystem,
    pattern: str,
    features: FeatureSpec,
    *,
    batch_size: int,
    epochs: int | None,
    seed: int = 0,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    prefetch_capacity: int = 2,
) -> BatchSource:
    """Batches per worker: files sharded by worker index, shuffled, prefetched.

    ``epochs=None`` repeats the data until the consumer stops.
    """
    files = data_files(fs, pattern)  # fails now, naming the item, not later

    def source(worker_index: int, num_workers: int) -> Iterator[Batch]:
        from monolith.app.data.pipeline import make_batches
        from monolith.app.data.prefetch import prefetch

        logger.info(
            "input opened worker=%d workers=%d files=%d",
            worker_index,
            num_workers,
            len(files),
        )
        batches = make_batches(
            fs,
            pattern,
            features,
            batch_size,
            worker_index=worker_index,
            num_workers=num_workers,
            epochs=epochs,
            shuffle_buffer=shuffle_buffer,
            seed=seed + worker_index,
            drop_remainder=True,
        )
        return iter(prefetch(batches, prefetch_capacity))

    return source


def eval_batches(
    fs: FileSystem, pattern: str, features: FeatureSpec, batch_size: int
) -> Iterator[Batch]:
    """Every example of ``pattern`` once, in order, in batches (last may be short)."""
    from monolith.app.data.pipeline import make_batches

    batches: Iterator[Batch] = make_batches(
        fs,
        pattern,
        features,
        batch_size,
        worker_index=0,
        num_workers=1,
        epochs=1,
        shuffle_buffer=0,
        seed=0,
        drop_remainder=False,
    )
    return batches
