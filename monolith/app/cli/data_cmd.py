"""``monolith data inspect``: files, record counts, decoded examples, CRC check."""

from __future__ import annotations

import click


@click.group("data")
def data() -> None:
    """Look at TFRecord input data."""


@data.command("inspect")
@click.argument("pattern")
@click.option(
    "--verify", is_flag=True, help="Check every CRC; exit non-zero on corruption."
)
@click.option(
    "--show",
    "show",
    type=int,
    default=0,
    show_default=True,
    help="Decode and print the first N examples.",
)
@click.option(
    "--compression",
    default="AUTO",
    show_default=True,
    help="'', GZIP, ZLIB or AUTO (by file suffix).",
)
def inspect(pattern: str, verify: bool, show: int, compression: str) -> None:
    """List the files PATTERN names, their record counts and the first examples.

    PATTERN is a comma list of paths, globs and @filelists.
    """
    from monolith.adapters.data.tfrecord import ReadStats, iter_record_chunks
    from monolith.app.data.pipeline import resolve_files
    from monolith.app.storage import filesystem_for

    first = pattern.split(",")[0].strip().lstrip("@")
    fs = filesystem_for(first)
    files = resolve_files(fs, pattern)
    shown: list[bytes] = []
    total = 0
    for path in files:
        stats = ReadStats()
        count = 0
        for chunk in iter_record_chunks(
            fs, path, compression=compression, verify=verify, stats=stats
        ):
            count += len(chunk)
            if len(shown) < show:
                shown.extend(chunk[: show - len(shown)])
        total += count
        click.echo(f"{path}\trecords={count}\tbytes={fs.size(path)}")
    checked = " crc=ok" if verify else ""
    click.echo(f"files={len(files)} records={total}{checked}")
    for index, record in enumerate(shown):
        click.echo(f"--- example {index}")
        click.echo(_describe(record))


def _describe(record: bytes) -> str:
    from google.protobuf.message import DecodeError

    from monolith.proto import example_pb2

    try:
        example = example_pb2.Example.FromString(record)
    except DecodeError:
        return f"(not a tf.train.Example: {len(record)} bytes)"
    lines = []
    for name in sorted(example.features.feature):
        feature = example.features.feature[name]
        kind = feature.WhichOneof("kind")
        if kind is None:
            lines.append(f"  {name}: (empty)")
            continue
        values = list(getattr(feature, kind).value)
        if kind == "bytes_list":
            shown = [v[:32] for v in values[:8]]
        else:
            shown = values[:8]
        more = f" ... ({len(values)} values)" if len(values) > 8 else ""
        lines.append(f"  {name}: {kind} {shown}{more}")
    return "\n".join(lines)
