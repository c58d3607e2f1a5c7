"""The validation step of a quantized export: a batch to score and the verdict.

Export compares the model with float32 tables against the same model with
the quantized tables: the embedding error over every exported row, and the
largest difference of the predictions on a validation batch. Both must stay
within the bound (``--max-error``) for the version to be published.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain.batch import Batch, RaggedFids
from monolith.domain.model_spec import ModelSpec
from monolith.domain.quantization import ErrorStats

Int64Array = npt.NDArray[np.int64]

DEFAULT_MAX_ERROR = 0.01
DEFAULT_VALIDATION_EXAMPLES = 256


@attrs.frozen
class ValidationReport:
    """What ``validation.json`` holds."""

    passed: bool
    quantize_bits: int
    embedding_max_abs_error: float
    embedding_mean_abs_error: float
    prediction_max_abs_diff: float
    bound: float
    validation_examples: int
    validation_source: str
    failures: tuple[str, ...] = ()

    def to_json(self) -> str:
        data = attrs.asdict(self)
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = str(value)
        data["failures"] = list(self.failures)
        return json.dumps(data, indent=1, sort_keys=True)


def judge(
    bits: int,
    embedding: ErrorStats,
    prediction_max_abs_diff: float,
    bound: float,
    examples: int,
    source: str,
) -> ValidationReport:
    """The report: passed iff both errors are finite and at most ``bound``."""
    failures = []
    if not embedding.max_abs_error <= bound:
        failures.append(
            f"embedding_max_abs_error {embedding.max_abs_error:.6g} exceeds {bound:g}"
        )
    if not prediction_max_abs_diff <= bound:
        failures.append(
            f"prediction_max_abs_diff {prediction_max_abs_diff:.6g} exceeds {bound:g}"
        )
    return ValidationReport(
        passed=not failures,
        quantize_bits=bits,
        embedding_max_abs_error=embedding.max_abs_error,
        embedding_mean_abs_error=embedding.mean_abs_error,
        prediction_max_abs_diff=prediction_max_abs_diff,
        bound=bound,
        validation_examples=examples,
        validation_source=source,
        failures=tuple(failures),
    )


def sample_validation_batch(
    spec: ModelSpec,
    table_fids: Mapping[str, Int64Array],
    size: int,
    seed: int = 0,
) -> Batch:
    """A batch drawn from the checkpoint's own fids (1-4 per slot and example).

    Slots whose table is empty get fids that read as zero rows. Dense
    features are standard normal. Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    sparse: dict[str, RaggedFids] = {}
    for slot in spec.slots:
        known = table_fids.get(slot.table, np.zeros(0, dtype=np.int64))
        lengths = rng.integers(1, 5, size=size)
        total = int(lengths.sum())
        if known.shape[0] > 0:
            values = rng.choice(known, size=total).astype(np.int64)
        else:
            values = rng.integers(0, 1 << 40, size=total, dtype=np.int64)
        splits = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(lengths, out=splits[1:])
        sparse[slot.name] = RaggedFids(values, splits)
    dense = rng.standard_normal((size, spec.dense_features)).astype(np.float32)
    label = np.zeros(size, dtype=np.float32)
    return Batch(sparse=sparse, dense=dense, label=label)
