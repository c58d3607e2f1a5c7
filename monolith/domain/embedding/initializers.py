"""Initial values of new rows, deterministic per ``(seed, fid, column)``.

Random values come from a counter-based generator: every element is a
SplitMix64 hash of the seed, the fid and the column, so the row a fid gets does
not depend on which shard holds it, on insertion order or on batch boundaries.
A restarted or resharded parameter server re-creates the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator

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


_CHUNK_ELEMENTS = 1 << 16
"""Elements generated per pass, so the temporaries stay in cache."""


def _mix(x: UInt64Array) -> UInt64Array:
    """SplitMix64's finaliser, elementwise and in place (wrapping uint64)."""
    tmp = np.empty_like(x)
    np.right_shift(x, np.uint64(30), out=tmp)
    x ^= tmp
    x *= _M1
    np.right_shift(x, np.uint64(27), out=tmp)
    x ^= tmp
    x *= _M2
    np.right_shift(x, np.uint64(31), out=tmp)
    x ^= tmp
    return x


def _random_bits(
    seed: int, fids: Int64Array, columns: int
) -> Iterator[tuple[slice, UInt64Array]]:
    """64 random bits per ``(fid, column)``, a block of rows at a time."""
    seed_word = _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64) + _GOLDEN)
    words = np.ascontiguousarray(fids, dtype=np.int64).view(np.uint64)
    steps = (np.arange(1, columns + 1, dtype=np.uint64) * _GOLDEN)[None, :]
    block = max(1, _CHUNK_ELEMENTS // max(columns, 1))
    for start in range(0, words.shape[0], block):
        rows = slice(start, min(start + block, words.shape[0]))
        base = _mix(words[rows] ^ seed_word)
        yield rows, _mix(base[:, None] + steps)


def uniform01(seed: int, fids: Int64Array, columns: int) -> npt.NDArray[np.float64]:
    """Uniform floats in ``[0, 1)`` (53 bits), shape ``[len(fids), columns]``."""
    out = np.empty((fids.shape[0], columns), dtype=np.float64)
    for rows, bits in _random_bits(seed, fids, columns):
        bits >>= np.uint64(11)
        np.multiply(bits, 1.0 / (1 << 53), out=out[rows])
    return out


def initial_rows(
    config: InitializerConfig, fids: Int64Array, width: int
) -> Float32Array:
    """Initial rows ``[len(fids), width]`` for ``fids``.

    Args:
        config: ``zeros``; ``uniform`` in ``[-scale, scale)`` (24 random bits
            per value); or ``gaussian`` with standard deviation ``scale``
            (Box-Muller over two streams).
        fids: The new fids.
        width: Row width.

    Raises:
        ConfigError: For an unknown initializer kind.
    """
    count = fids.shape[0]
    if config.kind == "zeros":
        return np.zeros((count, width), dtype=np.float32)
    if config.kind == "uniform":
        out = np.empty((count, width), dtype=np.float32)
        step = np.float32(2.0 * config.scale / (1 << 24))
        for rows, bits in _random_bits(config.seed, fids, width):
            bits >>= np.uint64(40)
            np.multiply(bits, step, out=out[rows], casting="unsafe")
        out -= np.float32(config.scale)
        return out
    if config.kind == "gaussian":
        u = uniform01(config.seed, fids, 2 * width)
        radius = np.sqrt(-2.0 * np.log1p(-u[:, :width]))
        normal = radius * np.cos(2.0 * np.pi * u[:, width:])
        return (normal * config.scale).astype(np.float32)
    raise ConfigError(
        f"initializer kind {config.kind!r} is unknown; "
        "expected 'zeros', 'uniform' or 'gaussian'"
    )
