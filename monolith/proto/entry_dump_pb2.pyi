from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SingleOptimizerDump(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., value: _Optional[_Iterable[float]] = ...) -> None: ...

class OptimizerDump(_message.Message):
    __slots__ = ("dump",)
    DUMP_FIELD_NUMBER: _ClassVar[int]
    dump: _containers.RepeatedCompositeFieldContainer[SingleOptimizerDump]
    def __init__(self, dump: _Optional[_Iterable[_Union[SingleOptimizerDump, _Mapping]]] = ...) -> None: ...

class EntryDump(_message.Message):
    __slots__ = ("id", "num", "opt", "last_update_ts_sec")
    ID_FIELD_NUMBER: _ClassVar[int]
    NUM_FIELD_NUMBER: _ClassVar[int]
    OPT_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATE_TS_SEC_FIELD_NUMBER: _ClassVar[int]
    id: int
    num: _containers.RepeatedScalarFieldContainer[float]
    opt: OptimizerDump
    last_update_ts_sec: int
    def __init__(self, id: _Optional[int] = ..., num: _Optional[_Iterable[float]] = ..., opt: _Optional[_Union[OptimizerDump, _Mapping]] = ..., last_update_ts_sec: _Optional[int] = ...) -> None: ...
