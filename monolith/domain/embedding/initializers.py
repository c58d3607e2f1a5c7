"""Initial values of new rows, deterministic per ``(seed, fid, column)``.

Random values come from a counter-based generator: every element is a
SplitMix64 hash of the seed, the fid and the column, so the row a fid gets does
not depend on which shard holds it, on insertion order or on batch boundaries.
A restarted or resharded parameter server re-creates the same rows.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monolith.domain.embedding.config import InitializerConfig
from monolith.domain.errors import ConfigError

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]
UInt64Array = npt.NDArray[np.uint64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: UInt64Array) -> UInt64Array:
    """SplitMix64's finaliser, elementwise (wrapping uint64 arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def uniform01(seed: int, fids: Int64Array, columns: int) -> npt.NDArray[np.float64]:
    """Uniform floats in ``[0, 1)``, shape ``[len(fids), columns]``."""
    seed_word = _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64) + _GOLDEN)
    base = _mix(np.ascontiguousarray(fids, dtype=np.int64).view(np.uint64) ^ seed_word)
    steps = (np.arange(1, columns + 1, dtype=np.uint64) * _GOLDEN)[None, :]
    bits = _mix(base[:, None] + steps)
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def initial_rows(
    config: InitializerConfig, fids: Int64Array, width: int
) -> Float32Array:
    """Initial rows ``[len(fids), width]`` for ``fids``.

    Args:
        config: ``zeros``; ``uniform`` in ``[-scale, scale)``; or ``gaussian``
            with standard deviation ``scale`` (Box-Muller over two streams).
        fids: The new fids.
        width: Row width.

    Raises:
        ConfigError: For an unknown initializer kind.
    """
    count = fids.shape[0]
    if config.kind == "zeros":
        return np.zeros((count, width), dtype=np.float32)
    if config.kind == "uniform":
        u = uniform01(config.seed, fids, width)
        return ((2.0 * u - 1.0) * config.scale).astype(np.float32)
    if config.kind == "gaussian":
        u = uniform01(config.seed, fids, 2 * width)
        radius = np.sqrt(-2.0 * np.log1p(-u[:, :width]))
        normal = radius * np.cos(2.0 * np.pi * u[:, width:])
        return (normal * config.scale).astype(np.float32)
    raise ConfigError(
        f"initializer kind {config.kind!r} is unknown; "
        "expected 'zeros', 'uniform' or 'gaussian'"
    )
