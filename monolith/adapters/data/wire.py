"""Vectorised protobuf wire-format primitives over a numpy byte buffer.

Buffers are ``uint8`` arrays padded with at least 16 zero bytes, so that an
unaligned 8-byte load (:func:`words`) at any real offset stays in bounds.
Anything these helpers do not handle raises :class:`Irregular`, which tells
the caller to use the reference (protobuf) route instead.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

PAD = 16
_HI = np.uint64(0x8080808080808080)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
BYTE_MASKS = np.array(
    [0] + [(1 << (8 * k)) - 1 for k in range(1, 8)] + [(1 << 64) - 1],
    dtype=np.uint64,
)


class Irregular(Exception):
    """The bytes use a layout the fast route does not handle."""


def padded(raw: bytes) -> U8:
    """``raw`` as a uint8 array with :data:`PAD` trailing zero bytes."""
    return np.frombuffer(raw + b"\x00" * PAD, dtype=np.uint8)


def words(buf: U8) -> U64:
    """Unaligned little-endian loads: ``words(buf)[i]`` is bytes ``i..i+7``."""
    return as_strided(buf, shape=(buf.size - 7, 8), strides=(1, 1)).view("<u8")[:, 0]


def _compress7(v: U64) -> U64:
    """Pack the low 7 bits of each of the 8 bytes of ``v`` into 56 bits."""
    v = (v & np.uint64(0x007F007F007F007F)) | (
        (v & np.uint64(0x7F007F007F007F00)) >> np.uint64(1)
    )
    v = (v & np.uint64(0x00003FFF00003FFF)) | (
        (v & np.uint64(0x3FFF00003FFF0000)) >> np.uint64(2)
    )
    return (v & np.uint64(0x000000000FFFFFFF)) | (
        (v & np.uint64(0x0FFFFFFF00000000)) >> np.uint64(4)
    )


def _byte_count(stop: U64) -> tuple[U64, I64]:
    """Lowest set 0x80 bit of ``stop`` and the byte count it implies."""
    low = stop & (~stop + np.uint64(1))
    exponent = np.frexp(low.astype(np.float64))[1].astype(np.int64)
    return low, (exponent + 7) >> 3


def decode_at(w: U64, pos: I64) -> tuple[U64, I64]:
    """The varints starting at ``pos`` (as uint64) and their byte counts."""
    x = w[pos]
    stop = ~x & _HI
    low, nbytes = _byte_count(stop)
    values = _compress7(x & ((low << np.uint64(1)) - np.uint64(1)) & _LOW7)
    long = stop == 0
    if long.any():
        li = np.nonzero(long)[0]
        y = w[pos[li] + 8]
        ystop = ~y & np.uint64(0x8080)
        if (ystop == 0).any():
            raise Irregular("varint longer than 10 bytes")
        ylow, ybytes = _byte_count(ystop)
        nbytes[li] = 8 + ybytes
        high = _compress7(y & ((ylow << np.uint64(1)) - np.uint64(1)) & _LOW7)
        values[li] = _compress7(x[li] & _LOW7) | (high << np.uint64(56))
    return values, nbytes


def varint(buf: U8, w: U64, pos: I64, total: int) -> tuple[I64, I64 | int]:
    """One varint at each position: (values as int64, byte counts).

    The byte count is the plain int 1 when every varint is one byte (the
    common case for lengths), which saves array work in the callers.
    Positions must lie inside ``buf`` (the caller checks ranges afterwards).
    """
    if pos.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    first = buf[pos]
    if int(first.max()) < 0x80:
        return first.astype(np.int64), 1
    values, nbytes = decode_at(w, pos)
    if int((pos + nbytes).max()) > total:
        raise Irregular("varint runs past the end")
    return values.view(np.int64), nbytes


def packed_varints(buf: U8, w: U64, ps: I64, pl: I64) -> tuple[I64, I64]:
    """Every varint in the disjoint ranges ``[ps, ps + pl)``, in range order.

    Returns:
        (values, counts): all values, range after range, and how many each
        range held.
    """
    if ps.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if int(pl.max()) <= LOCKSTEP_MAX_BYTES:
        return _packed_lockstep(w, ps, pl)
    return _packed_scan(buf, w, ps, pl)


LOCKSTEP_MAX_BYTES = 96


def _packed_lockstep(w: U64, ps: I64, pl: I64) -> tuple[I64, I64]:
    """Short lists: decode the k-th varint of every list in pass k."""
    pe = ps + pl
    cur = ps.copy()
    active = np.nonzero(pl > 0)[0]
    counts = np.zeros(ps.size, dtype=np.int64)
    passes: list[tuple[I64, U64]] = []
    while active.size:
        values, nbytes = decode_at(w, cur[active])
        passes.append((active, values))
        counts[active] += 1
        cur[active] += nbytes
        over = cur[active] > pe[active]
        if over.any():
            raise Irregular("packed varint crosses the end of its list")
        active = active[cur[active] < pe[active]]
    offsets = np.zeros(ps.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint64)
    for k, (idx, values) in enumerate(passes):
        out[offsets[idx] + k] = values
    return out.view(np.int64), counts


def _packed_scan(buf: U8, w: U64, ps: I64, pl: I64) -> tuple[I64, I64]:
    """Long lists: find every varint end in the ranges with whole-buffer scans."""
    pe = ps + pl
    member = np.zeros(buf.size + 1, dtype=np.int8)
    member[ps] += np.int8(1)
    member[pe] -= np.int8(1)
    inside = np.cumsum(member[:-1], dtype=np.int8).view(np.bool_)
    is_end = inside & (buf < 0x80)
    ends_before = np.zeros(buf.size + 1, dtype=np.int32)
    np.cumsum(is_end, out=ends_before[1:])
    first = ends_before[ps].astype(np.int64)
    last = ends_before[pe].astype(np.int64)
    counts = last - first
    nonempty = pl > 0
    if not is_end[pe[nonempty] - 1].all():
        raise Irregular("packed varint crosses the end of its list")
    end_pos = np.nonzero(is_end)[0]
    if end_pos.size == 0:
        return np.zeros(0, dtype=np.int64), counts
    starts = np.empty(end_pos.size, dtype=np.int64)
    starts[0] = 0
    starts[1:] = end_pos[:-1] + 1
    starts[first[nonempty]] = ps[nonempty]
    values, nbytes = decode_at(w, starts)
    if not (starts + nbytes - 1 == end_pos).all():
        raise Irregular("malformed packed varint")
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    if not (first[1:] == last[:-1]).all():
        gather = np.arange(int(offsets[-1]), dtype=np.int64) + np.repeat(
            first - offsets[:-1], counts
        )
        values = values[gather]
    return values.view(np.int64), counts
