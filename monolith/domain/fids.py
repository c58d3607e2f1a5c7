"""Feature ids (fids) in the v2 layout: slot in the top 16 bits (§13.2).

A v2 fid is ``slot << 48 | signature`` with a 48-bit signature, so
``slot_of(fid) == fid >> 48``. Slots 0..32767 keep fids non-negative in int64.
A v1 fid keeps its slot in the top 10 bits; :func:`v1_to_v2` keeps the slot
and the low 48 bits of the signature.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monolith.domain.errors import UsageError

SLOT_BITS = 16
SIGNATURE_BITS = 48
SIGNATURE_MASK = (1 << SIGNATURE_BITS) - 1
MAX_SLOT = (1 << (SLOT_BITS - 1)) - 1
_V1_SIGNATURE_BITS = 54


def make_fid(slot: int, signature: int) -> int:
    """The v2 fid of ``signature`` (masked to 48 bits) in ``slot``.

    Raises:
        UsageError: if ``slot`` is outside 0..32767.
    """
    if not 0 <= slot <= MAX_SLOT:
        raise UsageError(f"fid slot {slot} is out of range: expected 0..{MAX_SLOT}")
    return (slot << SIGNATURE_BITS) | (signature & SIGNATURE_MASK)


def slot_of(fid: int) -> int:
    """The slot of a v2 fid (``fid >> 48``; negative ids give negative slots)."""
    return fid >> SIGNATURE_BITS


def signature_of(fid: int) -> int:
    """The low 48 bits of a v2 fid."""
    return fid & SIGNATURE_MASK


def make_fids(slot: int, signatures: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Vectorised :func:`make_fid` over an int64 array of signatures."""
    if not 0 <= slot <= MAX_SLOT:
        raise UsageError(f"fid slot {slot} is out of range: expected 0..{MAX_SLOT}")
    sig = signatures.astype(np.int64) & np.int64(SIGNATURE_MASK)
    return (np.int64(slot) << np.int64(SIGNATURE_BITS)) | sig


def slots_of(fids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Vectorised :func:`slot_of`."""
    return fids >> np.int64(SIGNATURE_BITS)


def v1_to_v2(fid: int) -> int:
    """Convert a v1 fid (slot in the top 10 bits) to v2, keeping the slot."""
    unsigned = fid & ((1 << 64) - 1)
    slot = unsigned >> _V1_SIGNATURE_BITS
    return (slot << SIGNATURE_BITS) | (unsigned & SIGNATURE_MASK)
