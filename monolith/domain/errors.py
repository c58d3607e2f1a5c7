"""The one error hierarchy of monolith.

Every error monolith raises on purpose derives from :class:`MonolithError`.
Each class carries ``exit_code``, the status the CLI exits with when the error
reaches it. Where callers already catch a builtin, the class also inherits it.

    MonolithError                      exit 1
    ├── ConfigError (ValueError)       exit 2
    ├── UsageError (ValueError)        exit 2
    ├── TaskNotFoundError (LookupError) exit 2
    ├── StorageError (OSError)         exit 3
    │   ├── NotFoundError (FileNotFoundError)
    │   └── AlreadyExistsError (FileExistsError)
    ├── DataError                      exit 4
    │   └── CorruptRecordError
    ├── CheckpointError                exit 5
    │   └── NoCheckpointError
    ├── BarrierError                   exit 6
    │   ├── BarrierAlreadyPlacedError
    │   └── CoordinatorUnavailableError
    ├── DiscoveryError                 exit 7
    │   └── DiscoveryTimeoutError (TimeoutError)
    ├── ParameterStoreError            exit 8
    │   └── ShardUnavailableError
    ├── ComputeError                   exit 9
    │   ├── NonFiniteLossError
    │   └── CollectiveError
    ├── ExportError                    exit 10
    │   └── QuantizationError
    ├── ServingError                   exit 11
    └── RestoreSyncError (TimeoutError) exit 12
"""

from __future__ import annotations


class MonolithError(Exception):
    """Root of every error monolith raises on purpose."""

    exit_code: int = 1


class ConfigError(MonolithError, ValueError):
    """A configuration value is unknown, mistyped or inconsistent."""

    exit_code = 2


class UsageError(MonolithError, ValueError):
    """An argument to a command or function is not acceptable."""

    exit_code = 2


class TaskNotFoundError(MonolithError, LookupError):
    """A task name does not resolve to a registered task."""

    exit_code = 2


class StorageError(MonolithError, OSError):
    """A file-system operation failed."""

    exit_code = 3


class NotFoundError(StorageError, FileNotFoundError):
    """A path, or anything a pattern names, does not exist."""


class AlreadyExistsError(StorageError, FileExistsError):
    """A path exists where a new one was required."""


class DataError(MonolithError):
    """Input data is malformed."""

    exit_code = 4


class CorruptRecordError(DataError):
    """A record failed its CRC check or was truncated."""


class CheckpointError(MonolithError):
    """A checkpoint is missing, invalid or cannot be written."""

    exit_code = 5


class NoCheckpointError(CheckpointError):
    """A model directory holds no valid checkpoint."""


class BarrierError(MonolithError):
    """A barrier transition is not allowed in the current state."""

    exit_code = 6


class BarrierAlreadyPlacedError(BarrierError):
    """A barrier was placed while another one was still placed."""


class CoordinatorUnavailableError(BarrierError):
    """The chief's coordinator did not answer within the call's deadline."""


class DiscoveryError(MonolithError):
    """Service discovery failed or was given a bad address."""

    exit_code = 7


class DiscoveryTimeoutError(DiscoveryError, TimeoutError):
    """Roles did not appear in discovery within the wait."""


class ParameterStoreError(MonolithError):
    """A parameter-store call failed."""

    exit_code = 8


class ShardUnavailableError(ParameterStoreError):
    """A parameter-server shard did not answer within its deadline."""


class ComputeError(MonolithError):
    """The dense tower could not be built or run."""

    exit_code = 9


class NonFiniteLossError(ComputeError):
    """The loss became NaN or infinite."""


class CollectiveError(ComputeError):
    """An all-reduce across sync-training ranks failed or timed out."""


class ExportError(MonolithError):
    """An export could not be written or validated."""

    exit_code = 10


class QuantizationError(ExportError):
    """Quantization error exceeded the validation bound."""


class ServingError(MonolithError):
    """The serving process could not load or answer."""

    exit_code = 11


class RestoreSyncError(MonolithError, TimeoutError):
    """A non-chief process gave up waiting for the chief's restore."""

    exit_code = 12
