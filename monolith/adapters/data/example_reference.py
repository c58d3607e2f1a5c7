"""The reference route: serialized Examples to a batch through protobuf.

Slow (one ``FromString`` per record) but the definition of what a batch must
hold; the vectorised route falls back to it and is tested against it.

Rules, per record: a sparse slot must be an ``int64_list`` (absent or empty
means no fids); each dense feature and the label must be a ``float_list``
with exactly one value. A record breaking a rule is *bad*: it is left out of
the batch and listed with the reason, so the caller can raise or skip.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError

from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.feature_spec import FeatureSpec
from monolith.proto import example_pb2


@attrs.frozen
class Decoded:
    """A batch of the good records plus ``(input index, reason)`` of bad ones."""

    batch: Batch
    bad: tuple[tuple[int, str], ...]
    kept: npt.NDArray[np.int64]  # input index of each row of ``batch``


def scalar_problem(name: str, kind: str | None, count: int) -> str:
    """The reason text for a dense or label feature of the wrong shape."""
    what = f"float_list of {count} values" if kind == "float_list" else kind
    return (
        f"feature {name!r} is a {what or 'empty feature'}, expected a float_list "
        "with one value"
    )


def decode_reference(records: list[bytes], spec: FeatureSpec) -> Decoded:
    """Decode ``records`` one by one with the generated protobuf classes."""
    rows: dict[str, list[list[int]]] = {name: [] for name in spec.sparse}
    dense: list[list[float]] = []
    labels: list[float] = []
    bad: list[tuple[int, str]] = []
    kept: list[int] = []
    scalars = [*spec.dense, spec.label]
    for index, record in enumerate(records):
        try:
            example = example_pb2.Example.FromString(record)
        except DecodeError as exc:
            bad.append((index, f"not a tf.train.Example ({exc})"))
            continue
        feature = example.features.feature
        reason = None
        sparse_vals: dict[str, list[int]] = {}
        for name in spec.sparse:
            if name not in feature:
                sparse_vals[name] = []
                continue
            which = feature[name].WhichOneof("kind")
            if which not in (None, "int64_list"):
                reason = f"sparse feature {name!r} is a {which}, expected int64_list"
                break
            sparse_vals[name] = list(feature[name].int64_list.value)
        values: list[float] = []
        if reason is None:
            for name in scalars:
                if name not in feature:
                    reason = f"feature {name!r} is missing"
                    break
                which = feature[name].WhichOneof("kind")
                got = list(feature[name].float_list.value)
                if which != "float_list" or len(got) != 1:
                    reason = scalar_problem(name, which, len(got))
                    break
                values.append(got[0])
        if reason is not None:
            bad.append((index, reason))
            continue
        kept.append(index)
        for name in spec.sparse:
            rows[name].append(sparse_vals[name])
        dense.append(values[:-1])
        labels.append(values[-1])
    batch = Batch(
        sparse={name: RaggedFids.from_lists(rows[name]) for name in spec.sparse},
        dense=np.asarray(dense, dtype=np.float32).reshape(len(kept), len(spec.dense)),
        label=np.asarray(labels, dtype=np.float32),
    )
    return Decoded(batch, tuple(bad), np.asarray(kept, dtype=np.int64))
