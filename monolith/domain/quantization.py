"""Post-training quantization of embedding rows and its error metrics.

Three precisions are known, named by their bit width:

* ``32``: float32, unchanged.
* ``16``: IEEE float16 (round to nearest even, as numpy casts). Values beyond
  the float16 range become infinite, which the validation step reports.
* ``8``: int8 with one float32 scale per row, symmetric around zero:
  ``scale = max|row| / 127``, ``q = clamp(round_half_away(row / scale), -127,
  127)`` and ``row ≈ q * scale``. An all-zero row has scale 0 and decodes to
  zeros. The absolute error of an element is at most ``scale / 2``.

Non-finite input rows cannot be quantized to int8 and raise
:class:`~monolith.domain.errors.QuantizationError`.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from monolith.domain.errors import QuantizationError, UsageError

Float32Array = npt.NDArray[np.float32]

ACCEPTED_BITS = (8, 16)
"""Values ``--quantize`` accepts (32, no quantization, is the default)."""

INT8_LEVELS = 127


@attrs.frozen(eq=False)
class QuantizedRows:
    """Rows ``[N, W]`` at one precision.

    Attributes:
        bits: 32 (float32 ``values``), 16 (float16) or 8 (int8 with ``scales``).
        values: The stored values, dtype matching ``bits``.
        scales: ``[N]`` float32 per-row scales for 8 bits, else None.
    """

    bits: int
    values: npt.NDArray[np.generic]
    scales: Float32Array | None = None

    @property
    def num_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def nbytes(self) -> int:
        extra = 0 if self.scales is None else int(self.scales.nbytes)
        return int(self.values.nbytes) + extra


@attrs.frozen
class ErrorStats:
    """Absolute error between original and decoded values."""

    max_abs_error: float
    mean_abs_error: float
    count: int


def parse_bits(value: str | int | None) -> int:
    """The bit width of a ``--quantize`` value; None means 32 (no quantization).

    Raises:
        UsageError: ``value`` is not one of :data:`ACCEPTED_BITS`.
    """
    if value is None:
        return 32
    text = str(value).strip()
    if text.isdigit() and int(text) in ACCEPTED_BITS:
        return int(text)
    accepted = ", ".join(str(b) for b in ACCEPTED_BITS)
    raise UsageError(
        f"--quantize {text!r} is not supported; accepted values: {accepted} "
        "(16 = float16, 8 = int8 with a per-row scale)"
    )


def round_half_away_from_zero(x: Float32Array) -> Float32Array:
    """Round to the nearest integer; ties go away from zero (2.5 -> 3, -2.5 -> -3)."""
    rounded = np.sign(x) * np.floor(np.abs(x) + np.float32(0.5))
    return rounded.astype(np.float32, copy=False)


def quantize_int8(rows: Float32Array) -> QuantizedRows:
    """Symmetric int8 with one scale per row.

    Args:
        rows: ``[N, W]`` float32, all finite.

    Returns:
        int8 ``values`` and float32 ``scales`` with ``rows ≈ values * scales``.

    Raises:
        QuantizationError: A row holds NaN or an infinity.
    """
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2:
        raise QuantizationError(f"rows must be 2-D [N, W], got shape {rows.shape}")
    if not np.all(np.isfinite(rows)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(rows), axis=1))[0])
        raise QuantizationError(
            f"row {bad} holds a non-finite value; int8 needs finite rows"
        )
    if rows.shape[1] == 0:
        scales = np.zeros(rows.shape[0], dtype=np.float32)
    else:
        scales = (np.max(np.abs(rows), axis=1) / np.float32(INT8_LEVELS)).astype(
            np.float32
        )
    safe = np.where(scales > 0, scales, np.float32(1.0))
    scaled = (rows / safe[:, None]).astype(np.float32)
    q = np.clip(round_half_away_from_zero(scaled), -INT8_LEVELS, INT8_LEVELS)
    return QuantizedRows(bits=8, values=q.astype(np.int8), scales=scales)


def quantize_fp16(rows: Float32Array) -> QuantizedRows:
    """float16 values (out-of-range values become infinite)."""
    rows = np.asarray(rows, dtype=np.float32)
    with np.errstate(over="ignore"):
        values = rows.astype(np.float16)
    return QuantizedRows(bits=16, values=values)


def quantize_rows(rows: Float32Array, bits: int) -> QuantizedRows:
    """Rows at ``bits`` precision (32, 16 or 8)."""
    if bits == 32:
        return QuantizedRows(bits=32, values=np.asarray(rows, dtype=np.float32))
    if bits == 16:
        return quantize_fp16(rows)
    if bits == 8:
        return quantize_int8(rows)
    raise UsageError(f"bits must be 32, 16 or 8, got {bits}")


def dequantize_rows(
    q: QuantizedRows, index: npt.NDArray[np.int64] | None = None
) -> Float32Array:
    """Decode rows to float32; with ``index``, only those rows (a gather)."""
    values = q.values if index is None else q.values[index]
    decoded = values.astype(np.float32)
    if q.bits == 8:
        if q.scales is None:
            raise QuantizationError("int8 rows need per-row scales, found none")
        scales = q.scales if index is None else q.scales[index]
        decoded *= scales[:, None]
    return decoded


def abs_error(original: Float32Array, decoded: Float32Array) -> ErrorStats:
    """Max and mean absolute difference; empty inputs give zeros.

    Raises:
        QuantizationError: The shapes differ.
    """
    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(decoded, dtype=np.float64)
    if a.shape != b.shape:
        raise QuantizationError(
            f"cannot compare shapes {a.shape} and {b.shape}; they must be equal"
        )
    if a.size == 0:
        return ErrorStats(0.0, 0.0, 0)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - b)
    diff = np.where(np.isnan(diff), np.inf, diff)
    return ErrorStats(float(np.max(diff)), float(np.mean(diff)), int(a.size))


def combine_errors(parts: list[ErrorStats]) -> ErrorStats:
    """The statistics of several arrays taken together (mean weighted by size)."""
    count = sum(p.count for p in parts)
    if count == 0:
        return ErrorStats(0.0, 0.0, 0)
    return ErrorStats(
        max_abs_error=max(p.max_abs_error for p in parts),
        mean_abs_error=sum(p.mean_abs_error * p.count for p in parts) / count,
        count=count,
    )
