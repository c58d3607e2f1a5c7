"""Dump one embedding table of a checkpoint as EntryDump TFRecords (decision 11).

Each row becomes one record ``EntryDump{id, num=[bias] + embedding, opt,
last_update_ts_sec}``. A table without a bias column gets bias 0. ``opt``
holds the row's optimizer state, one named vector per state slot (adagrad
``norm``; adam ``m`` and ``v``; ftrl ``norm`` and ``zero``).
"""

from __future__ import annotations

import logging

import numpy as np

from monolith.adapters.data.tfrecord import frame
from monolith.adapters.data.writable_file import WritableFile
from monolith.adapters.parameters.snapshot import read_table_parts
from monolith.app.checkpoints import TABLES_DIR, CheckpointManager, resolve_checkpoint
from monolith.domain.embedding.config import TableConfig
from monolith.domain.embedding.table_arrays import TableArrays
from monolith.domain.errors import CheckpointError
from monolith.domain.model_spec import model_spec_from_dict
from monolith.domain.paths import join
from monolith.ports.storage import FileSystem
from monolith.proto import entry_dump_pb2

logger = logging.getLogger(__name__)

STATE_SLOTS = {
    "sgd": (),
    "adagrad": ("norm",),
    "adam": ("m", "v"),
    "ftrl": ("norm", "zero"),
}


def dump_table(fs: FileSystem, checkpoint: str, table: str, out: str) -> int:
    """Write every row of ``table`` in ``checkpoint`` to ``out``; return the rows.

    Args:
        fs: File system of the checkpoint and of ``out``.
        checkpoint: A ``checkpoint-<step>.json`` manifest, or a model
            directory (its newest valid checkpoint).
        table: Table name.
        out: The TFRecord file to write (replaced if it exists).

    Raises:
        CheckpointError: the checkpoint does not verify or has no such table.
    """
    model_dir, step = resolve_checkpoint(fs, checkpoint)
    manager = CheckpointManager(fs, model_dir)
    status = manager.verify(step)
    if not status.valid or status.manifest is None:
        raise CheckpointError(
            f"checkpoint-{step} in {model_dir!r} does not verify: {status.problem}"
        )
    spec = model_spec_from_dict(status.manifest.model_spec)
    names = [t.name for t in spec.tables]
    if table not in names:
        raise CheckpointError(
            f"checkpoint-{step} has no table {table!r}; its tables: {', '.join(names)}"
        )
    config = spec.table(table)
    directory = join(manager.payload_path(step), TABLES_DIR)
    rows = 0
    with WritableFile(fs, out) as writer:
        for part in read_table_parts(fs, directory, config):
            records = _records(config, part.arrays)
            writer.append(b"".join(frame(r) for r in records))
            rows += len(records)
    logger.info("table dumped table=%s step=%d rows=%d path=%s", table, step, rows, out)
    return rows


def _records(config: TableConfig, arrays: TableArrays) -> list[bytes]:
    keys = np.asarray(arrays.keys, dtype=np.int64)
    values = np.asarray(arrays.values, dtype=np.float32)
    state = np.asarray(arrays.state, dtype=np.float32)
    stamps = np.asarray(arrays.timestamps, dtype=np.int64)
    if config.has_bias:
        nums = values
    else:
        nums = np.concatenate([np.zeros((len(keys), 1), np.float32), values], axis=1)
    slots = STATE_SLOTS.get(config.optimizer.kind, ())
    width = config.width
    records = []
    for i in range(len(keys)):
        entry = entry_dump_pb2.EntryDump(
            id=int(keys[i]),
            num=nums[i].tolist(),
            last_update_ts_sec=int(stamps[i]),
        )
        for k, name in enumerate(slots):
            entry.opt.dump.add(
                name=name, value=state[i, k * width : (k + 1) * width].tolist()
            )
        records.append(entry.SerializeToString())
    return records
