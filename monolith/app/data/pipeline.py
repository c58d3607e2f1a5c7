"""The input pipeline: a pattern spec to an iterator of training batches.

Files come from :func:`~monolith.domain.patterns.expand_patterns` (decision 10:
comma lists, ``@filelist``, sorted globs, de-duplicated, a missing item fails
when the pipeline is built). Then, per epoch: shard (by file when there are at
least as many files as workers, else by record), interleave up to
``cycle_length`` files (round-robin in blocks of one 4 MiB read), optionally
shuffle through a seeded buffer, group into ``batch_size`` records and decode
with the vectorised Example decoder.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np

from monolith.adapters.data.example_decode import ExampleDecoder
from monolith.adapters.data.tfrecord import ReadStats, iter_record_chunks
from monolith.domain.batch import Batch
from monolith.domain.batch_ops import concat_batches, slice_batch
from monolith.domain.errors import DataError, NotFoundError, UsageError
from monolith.domain.feature_spec import FeatureSpec
from monolith.domain.patterns import expand_patterns, shard_files
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

_TAG_BITS = 40  # a record's tag is file_id << 40 | index within the file


@attrs.define
class PipelineStats:
    """What the pipeline read and skipped so far."""

    files: int = 0
    records: int = 0
    corrupt_records: int = 0
    bad_examples: int = 0
    batches: int = 0


def resolve_files(fs: FileSystem, pattern: str) -> list[str]:
    """The files a pattern spec names (decision 10), using ``fs`` for I/O."""

    def read_text(path: str) -> str:
        with fs.open(path, "rb") as handle:
            return handle.read().decode("utf-8")

    return expand_patterns(pattern, glob=fs.glob, read_text=read_text, exists=fs.exists)


def read_meta(fs: FileSystem, data_dir: str) -> dict[str, Any]:
    """The ``meta.json`` that ``monolith datagen`` wrote into ``data_dir``.

    Raises:
        NotFoundError: if there is no meta.json.
        DataError: if it is not a JSON object.
    """
    path = data_dir.rstrip("/") + "/meta.json"
    if not fs.exists(path):
        raise NotFoundError(f"{path!r} does not exist: run `monolith datagen` first")
    with fs.open(path, "rb") as handle:
        raw = handle.read()
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    return meta


def iter_tagged_records(
    fs: FileSystem,
    files: list[str],
    *,
    worker_index: int = 0,
    num_workers: int = 1,
    cycle_length: int = 4,
    skip_corrupt: bool = False,
    compression: str = "AUTO",
    stats: PipelineStats | None = None,
) -> Iterator[tuple[list[bytes], np.ndarray]]:
    """Record blocks with their tags (file id, index) for one pass over ``files``.

    Files are opened ``cycle_length`` at a time and read round-robin, one read
    block from each in turn; a finished file is replaced by the next one.
    """
    stats = stats if stats is not None else PipelineStats()
    by_file = len(files) >= num_workers
    mine = shard_files(files, worker_index, num_workers) if by_file else list(files)
    index_of = {path: i for i, path in enumerate(files)}
    file_ids = {path: index_of[path] for path in mine}
    pending = list(mine)
    open_iters: list[tuple[str, Iterator[list[bytes]], list[int]]] = []
    counter = 0
    while pending or open_iters:
        while pending and len(open_iters) < max(1, cycle_length):
            path = pending.pop(0)
            read_stats = ReadStats()
            chunks = iter_record_chunks(
                fs,
                path,
                compression=compression,
                skip_corrupt=skip_corrupt,
                stats=read_stats,
            )
            stats.files += 1
            open_iters.append((path, _counting(chunks, read_stats, stats), [0]))
        still_open = []
        for path, chunks, position in open_iters:
            block = next(chunks, None)
            if block is None:
                continue
            still_open.append((path, chunks, position))
            start = position[0]
            position[0] += len(block)
            tags = (np.int64(file_ids[path]) << np.int64(_TAG_BITS)) + np.arange(
                start, start + len(block), dtype=np.int64
            )
            if not by_file:
                offset = (worker_index - counter) % num_workers
                counter += len(block)
                block = block[offset::num_workers]
                tags = tags[offset::num_workers]
            stats.records += len(block)
            if block:
                yield block, tags
        open_iters = still_open


def _counting(
    chunks: Iterator[list[bytes]], read_stats: ReadStats, stats: PipelineStats
) -> Iterator[list[bytes]]:
    seen = 0
    for chunk in chunks:
        yield chunk
        stats.corrupt_records += read_stats.corrupt - seen
        seen = read_stats.corrupt
    stats.corrupt_records += read_stats.corrupt - seen


def _shuffled(
    blocks: Iterator[tuple[list[bytes], np.ndarray]],
    size: int,
    rng: np.random.Generator,
) -> Iterator[tuple[list[bytes], np.ndarray]]:
    """A seeded shuffle buffer of ``size`` records over a block stream."""
    pool: list[bytes] = []
    pool_tags: list[int] = []
    for block, tags in blocks:
        out: list[bytes] = []
        out_tags: list[int] = []
        tag_list = tags.tolist()
        picks = rng.integers(0, size, len(block)).tolist()
        for record, tag, pick in zip(block, tag_list, picks, strict=True):
            if len(pool) < size:
                pool.append(record)
                pool_tags.append(tag)
                continue
            out.append(pool[pick])
            out_tags.append(pool_tags[pick])
            pool[pick] = record
            pool_tags[pick] = tag
        if out:
            yield out, np.asarray(out_tags, dtype=np.int64)
    order = rng.permutation(len(pool)).tolist()
    if order:
        yield (
            [pool[i] for i in order],
            np.asarray([pool_tags[i] for i in order], dtype=np.int64),
        )


def _groups(
    blocks: Iterator[tuple[list[bytes], np.ndarray]], size: int
) -> Iterator[tuple[list[bytes], np.ndarray]]:
    """Re-cut a block stream into groups of exactly ``size`` (last may be short)."""
    records: list[bytes] = []
    tags: list[np.ndarray] = []
    held = 0
    for block, block_tags in blocks:
        records.extend(block)
        tags.append(block_tags)
        held += len(block)
        if held < size:
            continue
        all_tags = np.concatenate(tags)
        start = 0
        while held - start >= size:
            yield records[start : start + size], all_tags[start : start + size]
            start += size
        records = records[start:]
        tags = [all_tags[start:]]
        held -= start
    if records:
        yield records, np.concatenate(tags)


def make_batches(
    fs: FileSystem,
    pattern: str,
    spec: FeatureSpec,
    batch_size: int,
    *,
    worker_index: int = 0,
    num_workers: int = 1,
    epochs: int | None = 1,
    shuffle_buffer: int = 0,
    seed: int = 0,
    drop_remainder: bool = False,
    skip_corrupt: bool = False,
    cycle_length: int = 4,
    compression: str = "AUTO",
    stats: PipelineStats | None = None,
) -> Iterator[Batch]:
    """Batches of decoded Examples from the files a pattern names.

    Args:
        fs: the storage the files live on.
        pattern: a pattern spec (decision 10).
        spec: which features to decode.
        batch_size: examples per batch.
        worker_index, num_workers: this worker's shard.
        epochs: passes over the files; ``None`` repeats forever.
        shuffle_buffer: records held in the seeded shuffle buffer (0: none).
        seed: seeds the shuffle; epoch ``e`` uses ``seed + e``.
        drop_remainder: drop a last batch smaller than ``batch_size``.
        skip_corrupt: skip (and count in ``stats``) corrupt records and bad
            Examples instead of raising.
        cycle_length: files read at once (interleaving).
        compression: "", GZIP, ZLIB or AUTO (by suffix).
        stats: counters to fill in.

    Raises:
        NotFoundError: when the pattern (or an item of it) matches nothing;
            raised by this call, before iteration starts.
        CorruptRecordError: a bad CRC or truncation, naming file and offset.
        DataError: a bad Example, naming file and record index.
    """
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    if epochs is not None and epochs < 1:
        raise UsageError(f"epochs must be at least 1 or None, got {epochs}")
    files = resolve_files(fs, pattern)
    shard_files(files, worker_index, num_workers)  # validates the index now
    logger.info(
        "input pipeline built files=%d worker=%d/%d batch_size=%d",
        len(files),
        worker_index,
        num_workers,
        batch_size,
    )
    return _batches(
        fs,
        files,
        spec,
        batch_size,
        worker_index=worker_index,
        num_workers=num_workers,
        epochs=epochs,
        shuffle_buffer=shuffle_buffer,
        seed=seed,
        drop_remainder=drop_remainder,
        skip_corrupt=skip_corrupt,
        cycle_length=cycle_length,
        compression=compression,
        stats=stats if stats is not None else PipelineStats(),
    )


def _batches(
    fs: FileSystem,
    files: list[str],
    spec: FeatureSpec,
    batch_size: int,
    *,
    worker_index: int,
    num_workers: int,
    epochs: int | None,
    shuffle_buffer: int,
    seed: int,
    drop_remainder: bool,
    skip_corrupt: bool,
    cycle_length: int,
    compression: str,
    stats: PipelineStats,
) -> Iterator[Batch]:
    decoder = ExampleDecoder(spec)
    epoch = 0
    while epochs is None or epoch < epochs:
        blocks = iter_tagged_records(
            fs,
            files,
            worker_index=worker_index,
            num_workers=num_workers,
            cycle_length=cycle_length,
            skip_corrupt=skip_corrupt,
            compression=compression,
            stats=stats,
        )
        if shuffle_buffer > 0:
            blocks = _shuffled(
                blocks, shuffle_buffer, np.random.default_rng(seed + epoch)
            )
        held: list[Batch] = []
        held_rows = 0
        records_before = stats.records
        for records, tags in _groups(blocks, batch_size):
            decoded = decoder.decode(records)
            if decoded.bad:
                if not skip_corrupt:
                    index, reason = decoded.bad[0]
                    raise DataError(_describe(files, int(tags[index]), reason))
                stats.bad_examples += len(decoded.bad)
                for index, reason in decoded.bad:
                    logger.warning(
                        "bad example skipped %s",
                        _describe(files, int(tags[index]), reason),
                    )
            if decoded.batch.size == 0:
                continue
            if not held and decoded.batch.size == batch_size:
                stats.batches += 1
                yield decoded.batch
                continue
            held.append(decoded.batch)
            held_rows += decoded.batch.size
            if held_rows >= batch_size:
                merged = concat_batches(held)
                stats.batches += 1
                yield slice_batch(merged, 0, batch_size)
                rest = merged.size - batch_size
                held = [slice_batch(merged, batch_size, merged.size)] if rest else []
                held_rows = rest
        if held_rows and not drop_remainder:
            stats.batches += 1
            yield concat_batches(held)
        if stats.records == records_before:
            raise DataError(
                f"the {len(files)} input files hold no records for worker "
                f"{worker_index} of {num_workers}: {files[:3]!r}"
            )
        epoch += 1


def _describe(files: list[str], tag: int, reason: str) -> str:
    path = files[tag >> _TAG_BITS]
    index = tag & ((1 << _TAG_BITS) - 1)
    return f"{path}: record {index}: {reason}"
