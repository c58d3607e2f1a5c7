"""Numpy arrays and table configs to and from parameter-server protobufs.

Arrays travel as raw little-endian bytes (one copy each way), never as
repeated floats. Table configs travel as JSON of their attrs fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain.embedding.config import (
    InitializerConfig,
    OptimizerConfig,
    TableConfig,
)
from monolith.domain.errors import ParameterStoreError
from monolith.proto import parameter_server_pb2 as pb

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]

_INT64 = np.dtype("<i8")
_FLOAT32 = np.dtype("<f4")


def fids_to_bytes(fids: npt.ArrayLike) -> bytes:
    return np.ascontiguousarray(fids, dtype=_INT64).tobytes()


def fids_from_bytes(data: bytes) -> Int64Array:
    if len(data) % 8:
        raise ParameterStoreError(f"fid payload of {len(data)} bytes is not int64")
    return np.frombuffer(data, dtype=_INT64).astype(np.int64)


def rows_to_bytes(rows: npt.ArrayLike) -> bytes:
    return np.ascontiguousarray(rows, dtype=_FLOAT32).tobytes()


def rows_from_bytes(data: bytes, count: int, width: int) -> Float32Array:
    """A writable ``[count, width]`` float32 array from raw bytes."""
    if len(data) != count * width * 4:
        raise ParameterStoreError(
            f"row payload has {len(data)} bytes, expected {count}x{width} float32"
        )
    rows = np.frombuffer(data, dtype=_FLOAT32).reshape(count, width)
    return rows.astype(np.float32)


def array_to_proto(array: npt.ArrayLike) -> pb.Array:
    value = np.ascontiguousarray(array)
    if value.dtype.hasobject:
        raise ParameterStoreError("object arrays cannot be sent to a parameter server")
    value = value.astype(value.dtype.newbyteorder("<"), copy=False)
    return pb.Array(
        data=value.tobytes(), shape=list(value.shape), dtype=value.dtype.str
    )


def array_from_proto(message: pb.Array) -> npt.NDArray[Any]:
    dtype = np.dtype(message.dtype)
    if dtype.hasobject:
        raise ParameterStoreError("object arrays are refused")
    return np.frombuffer(message.data, dtype=dtype).reshape(tuple(message.shape)).copy()


def dense_to_proto(arrays: Mapping[str, npt.ArrayLike]) -> pb.DenseArrays:
    return pb.DenseArrays(arrays={k: array_to_proto(v) for k, v in arrays.items()})


def dense_from_proto(message: pb.DenseArrays) -> dict[str, Float32Array]:
    return {
        name: array_from_proto(value).astype(np.float32, copy=False)
        for name, value in message.arrays.items()
    }


def config_to_json(config: TableConfig) -> str:
    return json.dumps(attrs.asdict(config), sort_keys=True)


def config_from_json(text: str) -> TableConfig:
    try:
        data = json.loads(text)
        return TableConfig(
            name=data["name"],
            dim=int(data["dim"]),
            initializer=InitializerConfig(**data["initializer"]),
            optimizer=OptimizerConfig(**data["optimizer"]),
            occurrence_threshold=int(data["occurrence_threshold"]),
            expire_days=float(data["expire_days"]),
            has_bias=bool(data["has_bias"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ParameterStoreError(f"table config {text!r} is malformed: {exc}") from exc
