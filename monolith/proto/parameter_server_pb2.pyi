from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Array(_message.Message):
    __slots__ = ("data", "shape", "dtype")
    DATA_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    def __init__(self, data: _Optional[bytes] = ..., shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ...) -> None: ...

class CreateTablesRequest(_message.Message):
    __slots__ = ("config_json",)
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    config_json: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, config_json: _Optional[_Iterable[str]] = ...) -> None: ...

class TableInfo(_message.Message):
    __slots__ = ("name", "rows", "dim")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    name: str
    rows: int
    dim: int
    def __init__(self, name: _Optional[str] = ..., rows: _Optional[int] = ..., dim: _Optional[int] = ...) -> None: ...

class ListTablesResponse(_message.Message):
    __slots__ = ("tables",)
    TABLES_FIELD_NUMBER: _ClassVar[int]
    tables: _containers.RepeatedCompositeFieldContainer[TableInfo]
    def __init__(self, tables: _Optional[_Iterable[_Union[TableInfo, _Mapping]]] = ...) -> None: ...

class LookupRequest(_message.Message):
    __slots__ = ("table", "fids")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    FIDS_FIELD_NUMBER: _ClassVar[int]
    table: str
    fids: bytes
    def __init__(self, table: _Optional[str] = ..., fids: _Optional[bytes] = ...) -> None: ...

class LookupResponse(_message.Message):
    __slots__ = ("rows", "width")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    rows: bytes
    width: int
    def __init__(self, rows: _Optional[bytes] = ..., width: _Optional[int] = ...) -> None: ...

class ApplyGradientsRequest(_message.Message):
    __slots__ = ("table", "fids", "grads", "step", "timestamp", "width", "request_id")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    FIDS_FIELD_NUMBER: _ClassVar[int]
    GRADS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    table: str
    fids: bytes
    grads: bytes
    step: int
    timestamp: float
    width: int
    request_id: str
    def __init__(self, table: _Optional[str] = ..., fids: _Optional[bytes] = ..., grads: _Optional[bytes] = ..., step: _Optional[int] = ..., timestamp: _Optional[float] = ..., width: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class LookupManyRequest(_message.Message):
    __slots__ = ("lookups",)
    LOOKUPS_FIELD_NUMBER: _ClassVar[int]
    lookups: _containers.RepeatedCompositeFieldContainer[LookupRequest]
    def __init__(self, lookups: _Optional[_Iterable[_Union[LookupRequest, _Mapping]]] = ...) -> None: ...

class LookupManyResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[LookupResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[LookupResponse, _Mapping]]] = ...) -> None: ...

class ApplyGradientsManyRequest(_message.Message):
    __slots__ = ("updates", "step", "timestamp", "request_id")
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.RepeatedCompositeFieldContainer[ApplyGradientsRequest]
    step: int
    timestamp: float
    request_id: str
    def __init__(self, updates: _Optional[_Iterable[_Union[ApplyGradientsRequest, _Mapping]]] = ..., step: _Optional[int] = ..., timestamp: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class DenseArrays(_message.Message):
    __slots__ = ("arrays", "request_id")
    class ArraysEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Array
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Array, _Mapping]] = ...) -> None: ...
    ARRAYS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    arrays: _containers.MessageMap[str, Array]
    request_id: str
    def __init__(self, arrays: _Optional[_Mapping[str, Array]] = ..., request_id: _Optional[str] = ...) -> None: ...

class InitDenseRequest(_message.Message):
    __slots__ = ("params", "optimizer", "learning_rate", "clip_norm")
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    CLIP_NORM_FIELD_NUMBER: _ClassVar[int]
    params: DenseArrays
    optimizer: str
    learning_rate: float
    clip_norm: float
    def __init__(self, params: _Optional[_Union[DenseArrays, _Mapping]] = ..., optimizer: _Optional[str] = ..., learning_rate: _Optional[float] = ..., clip_norm: _Optional[float] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("directory", "part", "parts")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    directory: str
    part: int
    parts: int
    def __init__(self, directory: _Optional[str] = ..., part: _Optional[int] = ..., parts: _Optional[int] = ...) -> None: ...

class SnapshotResponse(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, files: _Optional[_Iterable[str]] = ...) -> None: ...

class RestoreRequest(_message.Message):
    __slots__ = ("directory", "part", "parts")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    directory: str
    part: int
    parts: int
    def __init__(self, directory: _Optional[str] = ..., part: _Optional[int] = ..., parts: _Optional[int] = ...) -> None: ...

class TouchedSinceRequest(_message.Message):
    __slots__ = ("table", "version")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    table: str
    version: int
    def __init__(self, table: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class TouchedSinceResponse(_message.Message):
    __slots__ = ("fids", "rows", "width", "version")
    FIDS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    fids: bytes
    rows: bytes
    width: int
    version: int
    def __init__(self, fids: _Optional[bytes] = ..., rows: _Optional[bytes] = ..., width: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ("grace_seconds",)
    GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    grace_seconds: float
    def __init__(self, grace_seconds: _Optional[float] = ...) -> None: ...
