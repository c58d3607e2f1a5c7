"""Default adapters for export: storage by URI, an in-process store, lazy backends."""

from __future__ import annotations

from monolith.app.export.exporter import ExportRequest, ExportResult, export_model
from monolith.app.export.source import CheckpointContents
from monolith.app.serving.backends import make_compute
from monolith.app.storage import filesystem_for
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


def run_export(
    request: ExportRequest,
    fs: FileSystem | None = None,
    output_fs: FileSystem | None = None,
) -> ExportResult:
    """:func:`export_model` with LocalParameterStore and the checkpoint's own
    compute backend.

    The checkpoint is read through ``fs`` and the version written through
    ``output_fs``; each defaults to the adapter its path's URI scheme names
    (:func:`monolith.app.storage.filesystem_for`: a plain path is local,
    ``memory://`` in-process, ``hdfs://`` WebHDFS).
    """
    from monolith.adapters.clock.system import SystemClock

    files = fs if fs is not None else filesystem_for(request.checkpoint)
    out = output_fs if output_fs is not None else filesystem_for(request.output)

    def make_store(_spec: ModelSpec) -> ParameterStore:
        return local_store(files)

    return export_model(
        request,
        files,
        make_store,
        make_compute,
        SystemClock(),
        saved_model_writer=write_saved_model,
        output_fs=out,
    )
