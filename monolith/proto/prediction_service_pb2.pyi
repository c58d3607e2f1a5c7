from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RaggedFids(_message.Message):
    __slots__ = ("values", "row_splits")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    ROW_SPLITS_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    row_splits: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ..., row_splits: _Optional[_Iterable[int]] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("batch_size", "slots", "dense")
    class SlotsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: RaggedFids
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[RaggedFids, _Mapping]] = ...) -> None: ...
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    DENSE_FIELD_NUMBER: _ClassVar[int]
    batch_size: int
    slots: _containers.MessageMap[str, RaggedFids]
    dense: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, batch_size: _Optional[int] = ..., slots: _Optional[_Mapping[str, RaggedFids]] = ..., dense: _Optional[_Iterable[float]] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("scores", "model_version")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedScalarFieldContainer[float]
    model_version: int
    def __init__(self, scores: _Optional[_Iterable[float]] = ..., model_version: _Optional[int] = ...) -> None: ...

class TableDelta(_message.Message):
    __slots__ = ("table", "fids", "rows", "width")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    FIDS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    table: str
    fids: _containers.RepeatedScalarFieldContainer[int]
    rows: _containers.RepeatedScalarFieldContainer[float]
    width: int
    def __init__(self, table: _Optional[str] = ..., fids: _Optional[_Iterable[int]] = ..., rows: _Optional[_Iterable[float]] = ..., width: _Optional[int] = ...) -> None: ...

class PushDeltaRequest(_message.Message):
    __slots__ = ("source", "version", "tables", "created_at")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    source: str
    version: int
    tables: _containers.RepeatedCompositeFieldContainer[TableDelta]
    created_at: float
    def __init__(self, source: _Optional[str] = ..., version: _Optional[int] = ..., tables: _Optional[_Iterable[_Union[TableDelta, _Mapping]]] = ..., created_at: _Optional[float] = ...) -> None: ...

class PushDeltaResponse(_message.Message):
    __slots__ = ("applied", "ignored", "model_version")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    IGNORED_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    applied: _containers.RepeatedScalarFieldContainer[str]
    ignored: _containers.RepeatedScalarFieldContainer[str]
    model_version: int
    def __init__(self, applied: _Optional[_Iterable[str]] = ..., ignored: _Optional[_Iterable[str]] = ..., model_version: _Optional[int] = ...) -> None: ...

class ModelStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelStatusResponse(_message.Message):
    __slots__ = ("loaded", "model_version", "slots", "dense_width", "tables")
    LOADED_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    DENSE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    loaded: bool
    model_version: int
    slots: _containers.RepeatedScalarFieldContainer[str]
    dense_width: int
    tables: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, loaded: _Optional[bool] = ..., model_version: _Optional[int] = ..., slots: _Optional[_Iterable[str]] = ..., dense_width: _Optional[int] = ..., tables: _Optional[_Iterable[str]] = ...) -> None: ...
