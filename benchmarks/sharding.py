"""Summing duplicate-fid gradients: ``dedup_sum`` against ``np.unique`` + ``np.add.at``.

The anchor is the textbook numpy idiom (``np.unique(return_inverse=True)``
then ``np.add.at`` on rows). Both produce the distinct fids in ascending order
and one summed gradient row per fid. Fids follow a Zipf law folded into a
fixed id space, like feature ids of a recommendation batch.

Run: ``python -m benchmarks.sharding [--quick]``; the figure is million input
gradient rows per second (higher is better).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import numpy.typing as npt

from benchmarks._harness import Table, measure, parse_args, ratio, result_line
from monolith.domain.sharding import dedup_sum

Case = tuple[int, int, int]  # rows, dim, id space


def anchor_dedup_sum(
    fids: npt.NDArray[np.int64], grads: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    unique, inverse = np.unique(fids, return_inverse=True)
    summed = np.zeros((unique.size, grads.shape[1]), dtype=grads.dtype)
    np.add.at(summed, inverse, grads)
    return unique, summed


def make_batch(
    rows: int, dim: int, id_space: int, seed: int = 0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    rng = np.random.default_rng(seed)
    fids = rng.zipf(1.2, size=rows).astype(np.int64) % id_space
    grads = rng.standard_normal((rows, dim), dtype=np.float32)
    return fids, grads


def run(cases: Sequence[Case], repeat: int) -> list[tuple[float, float]]:
    table = Table(
        ["rows", "dim", "distinct", "ours Mrows/s", "anchor Mrows/s", "ratio"]
    )
    rates = []
    for rows, dim, id_space in cases:
        fids, grads = make_batch(rows, dim, id_space)
        ours_fids, ours_sum = dedup_sum(fids, grads)
        anchor_fids, anchor_sum = anchor_dedup_sum(fids, grads)
        if not np.array_equal(ours_fids, anchor_fids) or not np.allclose(
            ours_sum, anchor_sum, rtol=1e-4, atol=1e-3
        ):
            raise SystemExit(f"dedup_sum disagrees with the anchor for case {rows=}")

        ours = rows / measure(partial(dedup_sum, fids, grads), repeat=repeat).median
        anchor_fn = partial(anchor_dedup_sum, fids, grads)
        anchor = rows / measure(anchor_fn, repeat=repeat).median
        rates.append((ours / 1e6, anchor / 1e6))
        table.add_row(
            rows,
            dim,
            ours_fids.size,
            ours / 1e6,
            anchor / 1e6,
            f"{ratio(ours, anchor):.2f}x",
        )
    table.print()
    return rates


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "", argv)
    if args.quick:
        cases: list[Case] = [(1 << 15, 16, 100_000), (1 << 14, 64, 50_000)]
    else:
        cases = [(1 << 20, 16, 100_000), (1 << 18, 64, 50_000), (1 << 18, 16, 1 << 40)]
    rates = run(cases, args.repeat)
    ours, anchor = rates[0]  # the headline case: a 1M-row (quick: 32k) batch, dim 16
    result_line("sharding_dedup_sum", ours, anchor, "Mrows/s")


if __name__ == "__main__":
    main()
