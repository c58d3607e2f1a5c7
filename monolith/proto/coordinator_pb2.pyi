from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class WorkerRequest(_message.Message):
    __slots__ = ("index",)
    INDEX_FIELD_NUMBER: _ClassVar[int]
    index: int
    def __init__(self, index: _Optional[int] = ...) -> None: ...

class BlockRequest(_message.Message):
    __slots__ = ("index", "epoch")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    index: int
    epoch: int
    def __init__(self, index: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("index", "epoch")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    index: int
    epoch: int
    def __init__(self, index: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class CoordState(_message.Message):
    __slots__ = ("claimed_step", "global_step", "epoch", "placed", "action", "released", "restored", "finished", "restored_step", "generation")
    CLAIMED_STEP_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    PLACED_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    RESTORED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    RESTORED_STEP_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    claimed_step: int
    global_step: int
    epoch: int
    placed: bool
    action: str
    released: bool
    restored: bool
    finished: bool
    restored_step: int
    generation: int
    def __init__(self, claimed_step: _Optional[int] = ..., global_step: _Optional[int] = ..., epoch: _Optional[int] = ..., placed: _Optional[bool] = ..., action: _Optional[str] = ..., released: _Optional[bool] = ..., restored: _Optional[bool] = ..., finished: _Optional[bool] = ..., restored_step: _Optional[int] = ..., generation: _Optional[int] = ...) -> None: ...
