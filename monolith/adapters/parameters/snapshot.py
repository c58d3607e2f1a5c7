"""Snapshot files of embedding-table shards and dense parameters.

Layout below a snapshot directory::

    tables/<table>/part-00000-of-00002/values.npy       float32 [rows, width]
                                       state.npy        float32 [rows, state]
                                       timestamps.npy   uint32 [rows]
                                       index.npy        int64 [2**bits, 2]
                                       filter.npy       uint8 (optional)
                                       CHECKSUMS.json   written last
    dense/part-00000-of-00001/array-00000.npy ...       CHECKSUMS.json

``CHECKSUMS.json`` records the table's shape and, for every array, its dtype,
shape, size and CRC-32C; a part without it does not exist. ``index.npy`` is
the hash index's slot array, ``(key, row + 1)`` per slot and ``(0, 0)`` where
empty: every key once, with its row, in 16 / load bytes per row (23 to 46).
A restore onto the same sharding reads it straight into the index it adopts
(no rehash, no rebuild); other restores take the key of each row from it.
When rows expired (the index has holes) the part saves ``keys.npy`` (int64
[rows]) instead. Format 2 saved ``keys.npy`` plus the slot of each row
(``slots.npy``), which rebuilt the index by random writes; it is still read.
Arrays are plain ``.npy`` files, loadable with ``np.load(...,
allow_pickle=False)``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from monolith.adapters.parameters.npy_files import NpyRecord, read_npy, write_npy
from monolith.domain.embedding.config import TableConfig
from monolith.domain.embedding.hash_index import row_keys_of, slots_from_rows
from monolith.domain.embedding.table import EmbeddingTable
from monolith.domain.embedding.table_arrays import TableArrays, TableViews
from monolith.domain.errors import NotFoundError, ParameterStoreError
from monolith.ports.storage import FileSystem

logger = logging.getLogger(__name__)

CHECKSUMS = "CHECKSUMS.json"
IO_THREADS = 4
"""Files of one part written at once (numpy, CRC and I/O drop the GIL).

Reads go one file at a time: on the benchmark VM, four concurrent cold-read
streams were slower than one sequential stream, while concurrent writes were
faster than sequential ones."""
FORMAT_VERSION = 3
"""3: the index is saved as its slot array, without keys.npy; 2 saved keys.npy
and the slot of each row (still read); 1 saved keys.npy and the slot array
(refused)."""
READABLE_FORMATS = (2, 3)
_PART = re.compile(r"part-(\d{5})-of-(\d{5})")


def part_name(part: int, parts: int) -> str:
    """The directory name of ``part`` of ``parts``."""
    return f"part-{part:05d}-of-{parts:05d}"


def _join(*pieces: str) -> str:
    return "/".join(p.rstrip("/") for p in pieces)


@attrs.frozen(eq=False)
class SavedPart:
    """One saved shard of one table, read back and verified.

    ``keys`` is None when the part was read for adoption (``index`` given);
    otherwise ``index`` is None.
    """

    part: int
    parts: int
    rows: int
    keys: npt.NDArray[np.int64] | None
    values: npt.NDArray[np.float32]
    state: npt.NDArray[np.float32]
    timestamps: npt.NDArray[np.uint32]
    index: npt.NDArray[np.int64] | None
    filter: npt.NDArray[np.uint8] | None

    @property
    def arrays(self) -> TableArrays:
        """The rows with their keys (a part read with its keys)."""
        if self.keys is None:
            raise ParameterStoreError(
                f"part {self.part} of {self.parts} was read without its keys"
            )
        return TableArrays(self.keys, self.values, self.state, self.timestamps)

    @property
    def views(self) -> TableViews:
        """The rows beside the rebuilt slot array (a part read with its index)."""
        if self.index is None:
            raise ParameterStoreError(
                f"part {self.part} of {self.parts} was read without its index"
            )
        return TableViews(
            self.rows, self.values, self.state, self.timestamps, self.index
        )


def _write_checksums(
    fs: FileSystem, base: str, meta: dict[str, object], records: Mapping[str, NpyRecord]
) -> str:
    path = _join(base, CHECKSUMS)
    body = dict(meta, format=FORMAT_VERSION)
    body["files"] = {name: record.to_json() for name, record in records.items()}
    with fs.atomic_write(path) as handle:
        handle.write(json.dumps(body, indent=1, sort_keys=True).encode())
    return path


def _read_checksums(fs: FileSystem, base: str) -> dict[str, object]:
    path = _join(base, CHECKSUMS)
    try:
        with fs.open(path, "rb") as handle:
            meta = json.loads(handle.read())
    except NotFoundError as exc:
        raise ParameterStoreError(
            f"snapshot part {base!r} has no {CHECKSUMS}: it is incomplete"
        ) from exc
    except ValueError as exc:
        raise ParameterStoreError(f"{path!r} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") not in READABLE_FORMATS:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ParameterStoreError(
            f"{path!r} has snapshot format {found!r}, expected one of "
            f"{', '.join(map(str, READABLE_FORMATS))}"
        )
    return meta


def _write_one(
    fs: FileSystem, path: str, source: Callable[[], npt.NDArray[np.generic]]
) -> NpyRecord:
    return write_npy(fs, path, source())


def save_table_part(
    fs: FileSystem, directory: str, table: EmbeddingTable, part: int, parts: int
) -> list[str]:
    """Write ``table`` as ``part`` of ``parts``; return the files written.

    Expired rows are left out. The caller keeps the table unchanged meanwhile
    (the arrays written are views of it).
    """
    started = time.perf_counter()
    base = _join(directory, "tables", table.config.name, part_name(part, parts))
    views = table.snapshot_views()
    slot_count = 0
    files: dict[str, Callable[[], npt.NDArray[np.generic]]]
    with ThreadPoolExecutor(IO_THREADS, thread_name_prefix="snapshot") as pool:
        if views is None:
            exported = table.export(drop_expired=True)
            rows = int(exported.keys.shape[0])
            files = {
                "keys": lambda: exported.keys,
                "values": lambda: exported.values,
                "state": lambda: exported.state,
                "timestamps": lambda: exported.timestamps,
            }
        else:
            rows = views.rows
            slot_count = int(views.slots.shape[0])
            files = {
                "values": lambda: views.values,
                "state": lambda: views.state,
                "index": lambda: views.slots,
                "timestamps": lambda: views.timestamps,
            }
        occurrence = table.occurrence_filter
        if occurrence is not None:
            packed = occurrence.packed
            files["filter"] = lambda: packed
        futures = {
            name: pool.submit(_write_one, fs, _join(base, f"{name}.npy"), source)
            for name, source in files.items()
        }
        records = {name: future.result() for name, future in futures.items()}
    meta: dict[str, object] = {
        "table": table.config.name,
        "dim": table.config.dim,
        "width": table.width,
        "optimizer": table.config.optimizer.kind,
        "rows": rows,
        "slot_count": slot_count,
        "part": part,
        "parts": parts,
    }
    written = [_join(base, f"{name}.npy") for name in files]
    written.append(_write_checksums(fs, base, meta, records))
    seconds = time.perf_counter() - started
    nbytes = sum(r.nbytes for r in records.values())
    logger.debug(
        "table snapshot saved table=%s part=%d parts=%d rows=%d bytes=%d seconds=%.3f",
        table.config.name,
        part,
        parts,
        rows,
        nbytes,
        seconds,
    )
    return written


def remove_other_parts(fs: FileSystem, directory: str, table: str, parts: int) -> None:
    """Delete saved parts of ``table`` that a snapshot into ``parts`` won't replace.

    Parts it will write are replaced file by file (atomically), so they stay.
    """
    base = _join(directory, "tables", table)
    if not fs.isdir(base):
        return
    for name in fs.listdir(base):
        match = _PART.fullmatch(name)
        if match and (int(match.group(2)) != parts or int(match.group(1)) >= parts):
            fs.rmtree(_join(base, name))


def saved_parts(fs: FileSystem, directory: str, table: str) -> list[str]:
    """The part directories of ``table``, checked to be one complete set.

    Returns an empty list when the snapshot has no such table.

    Raises:
        ParameterStoreError: When parts of different part counts are mixed or
            a part is missing.
    """
    base = _join(directory, "tables", table)
    if not fs.isdir(base):
        return []
    found: dict[int, set[int]] = {}
    for name in fs.listdir(base):
        match = _PART.fullmatch(name)
        if match:
            found.setdefault(int(match.group(2)), set()).add(int(match.group(1)))
    if len(found) != 1:
        raise ParameterStoreError(
            f"snapshot {base!r} must hold one set of parts, found part counts "
            f"{sorted(found)}"
        )
    ((parts, present),) = found.items()
    missing = sorted(set(range(parts)) - present)
    if missing:
        raise ParameterStoreError(
            f"snapshot {base!r} is missing parts {missing} of {parts}"
        )
    return [_join(base, part_name(p, parts)) for p in range(parts)]


_FORMAT_2_INDEX = "slots"


def read_table_parts(
    fs: FileSystem,
    directory: str,
    config: TableConfig,
    adopt_parts: int | None = None,
) -> Iterator[SavedPart]:
    """Read and verify every saved part of ``config``'s table, one at a time.

    With ``adopt_parts`` equal to the snapshot's part count, a part that
    saved its index is read for adoption: its slot array comes back (the
    keys stay in it). Every other part is read with the key of each row.

    Raises:
        ParameterStoreError: When a part is missing, corrupt or saved with a
            different width or optimizer.
    """
    for base in saved_parts(fs, directory, config.name):
        started = time.perf_counter()
        meta = _read_checksums(fs, base)
        if meta.get("width") != config.width or meta.get("optimizer") != (
            config.optimizer.kind
        ):
            raise ParameterStoreError(
                f"snapshot {base!r} holds width {meta.get('width')} with optimizer "
                f"{meta.get('optimizer')!r}, but table {config.name!r} has width "
                f"{config.width} with {config.optimizer.kind!r}"
            )
        entries = meta.get("files")
        if not isinstance(entries, dict):
            raise ParameterStoreError(f"{base}/{CHECKSUMS} lists no files")
        part = _read_part(fs, base, meta, entries, adopt_parts)
        logger.debug(
            "table snapshot read table=%s part=%d parts=%d rows=%d adopt=%s "
            "seconds=%.3f",
            config.name,
            part.part,
            part.parts,
            part.rows,
            part.index is not None,
            time.perf_counter() - started,
        )
        yield part


def _read_part(
    fs: FileSystem,
    base: str,
    meta: Mapping[str, object],
    entries: Mapping[str, object],
    adopt_parts: int | None,
) -> SavedPart:
    """Read the files of one part that its use needs (see read_table_parts)."""
    parts = int(str(meta["parts"]))
    format_2 = _FORMAT_2_INDEX in entries
    adopt = (format_2 or "index" in entries) and adopt_parts == parts
    names = ["values", "state", "timestamps"]
    if format_2:
        names += ["keys", _FORMAT_2_INDEX] if adopt else ["keys"]
    elif adopt or "keys" not in entries:
        names.append("index")  # the keys are in the slot array
    else:
        names.append("keys")
    if "filter" in entries:
        names.append("filter")
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name in names:  # one file at a time (see IO_THREADS)
        entry = entries.get(name)
        if not isinstance(entry, dict):
            raise ParameterStoreError(f"snapshot part {base!r} has no {name}.npy")
        arrays[name] = read_npy(
            fs, _join(base, f"{name}.npy"), NpyRecord.from_json(entry)
        )
    values = arrays["values"].astype(np.float32, copy=False)
    rows = int(values.shape[0])
    slots = _slots(base, meta, arrays) if adopt or "keys" not in arrays else None
    keys: npt.NDArray[np.int64] | None = None
    if not adopt:
        keys = (
            arrays["keys"].astype(np.int64, copy=False)
            if slots is None
            else _row_keys(base, slots, rows)
        )
    return SavedPart(
        part=int(str(meta["part"])),
        parts=parts,
        rows=rows,
        keys=keys,
        values=values,
        state=arrays["state"].astype(np.float32, copy=False),
        timestamps=arrays["timestamps"].astype(np.uint32, copy=False),
        index=slots if adopt else None,
        filter=arrays.get("filter"),
    )


def _row_keys(
    base: str, slots: npt.NDArray[np.int64], rows: int
) -> npt.NDArray[np.int64]:
    """The key of each row, from a saved slot array (adoption checks its own)."""
    occupied = int(np.count_nonzero(slots[:, 1]))
    if occupied != rows:
        raise ParameterStoreError(
            f"snapshot part {base!r} has an index of {occupied} rows for "
            f"{rows} rows of values"
        )
    return row_keys_of(slots, rows)


def _slots(
    base: str, meta: Mapping[str, object], arrays: Mapping[str, npt.NDArray[Any]]
) -> npt.NDArray[np.int64]:
    """The hash index's slot array: as saved, or rebuilt from format 2."""
    count = int(str(meta.get("slot_count")))
    if _FORMAT_2_INDEX in arrays:
        try:
            return slots_from_rows(
                arrays["keys"].astype(np.int64, copy=False),
                arrays[_FORMAT_2_INDEX],
                count,
            )
        except ValueError as exc:
            raise ParameterStoreError(
                f"snapshot part {base!r} has an invalid slots.npy: {exc}"
            ) from exc
    slots = arrays["index"]
    if slots.dtype != np.int64 or slots.shape != (count, 2):
        raise ParameterStoreError(
            f"snapshot part {base!r} has an index of {slots.dtype}"
            f"{list(slots.shape)}, expected int64[{count}, 2]"
        )
    return slots


def save_dense(
    fs: FileSystem, directory: str, arrays: Mapping[str, npt.NDArray[np.float32]]
) -> list[str]:
    """Write dense parameters and optimizer state; return the files written."""
    base = _join(directory, "dense", part_name(0, 1))
    names = sorted(arrays)
    records = {
        f"array-{i:05d}": write_npy(fs, _join(base, f"array-{i:05d}.npy"), arrays[n])
        for i, n in enumerate(names)
    }
    meta: dict[str, object] = {"names": names}
    written = [_join(base, f"{key}.npy") for key in records]
    written.append(_write_checksums(fs, base, meta, records))
    return written


def read_dense(fs: FileSystem, directory: str) -> dict[str, npt.NDArray[np.float32]]:
    """Dense arrays of a snapshot; empty when it has none."""
    base = _join(directory, "dense", part_name(0, 1))
    if not fs.isdir(base):
        return {}
    meta = _read_checksums(fs, base)
    names = meta.get("names")
    entries = meta.get("files")
    if not isinstance(names, list) or not isinstance(entries, dict):
        raise ParameterStoreError(f"{base}/{CHECKSUMS} lacks names or files")
    out: dict[str, npt.NDArray[np.float32]] = {}
    for i, name in enumerate(names):
        key = f"array-{i:05d}"
        record = NpyRecord.from_json(entries[key])
        array = read_npy(fs, _join(base, f"{key}.npy"), record)
        out[str(name)] = array.astype(np.float32, copy=False)
    return out
