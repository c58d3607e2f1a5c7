"""Protocols that adapters implement, one port per module."""

from monolith.ports.clock import Clock
from monolith.ports.collective import AllReduce
from monolith.ports.compute import ComputeBackend, SlotInput, StepResult, TowerInputs
from monolith.ports.coordination import Coordinator
from monolith.ports.discovery import ServiceDiscovery
from monolith.ports.parameters import ParameterStore, TableInfo, TouchedRows
from monolith.ports.serving import (
    ModelStatus,
    PredictionClient,
    PredictionHandler,
    ServingMetrics,
)
from monolith.ports.storage import FileSystem

__all__ = [
    "AllReduce",
    "Clock",
    "ComputeBackend",
    "Coordinator",
    "FileSystem",
    "ModelStatus",
    "ParameterStore",
    "PredictionClient",
    "PredictionHandler",
    "ServiceDiscovery",
    "ServingMetrics",
    "SlotInput",
    "StepResult",
    "TableInfo",
    "TouchedRows",
    "TowerInputs",
]
