"""Default adapters for export: local files, an in-process store, lazy backends."""

from __future__ import annotations

from monolith.app.export.exporter import ExportRequest, ExportResult, export_model
from monolith.app.export.source import CheckpointContents
from monolith.app.serving.backends import make_compute
from monolith.domain.model_spec import ModelSpec
from monolith.domain.serving_table import ServingTable
from monolith.ports.parameters import ParameterStore
from monolith.ports.storage import FileSystem


def local_store(fs: FileSystem) -> ParameterStore:
    from monolith.adapters.parameters.local import LocalParameterStore

    return LocalParameterStore(num_shards=1, fs=fs)


def write_saved_model(
    contents: CheckpointContents, tables: dict[str, ServingTable], directory: str
) -> None:
    from monolith.adapters.export.saved_model_writer import write_saved_model as write

    write(contents.spec, contents.backend, tables, directory)


def run_export(request: ExportRequest, fs: FileSystem | None = None) -> ExportResult:
    """:func:`export_model` with local storage, LocalParameterStore and the
    checkpoint's own compute backend."""
    from monolith.adapters.clock.system import SystemClock
    from monolith.adapters.storage.local import LocalFileSystem

    files: FileSystem = fs if fs is not None else LocalFileSystem()

    def make_store(_spec: ModelSpec) -> ParameterStore:
        return local_store(files)

    return export_model(
        request,
        files,
        make_store,
        make_compute,
        SystemClock(),
        saved_model_writer=write_saved_model,
    )
