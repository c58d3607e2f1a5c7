"""Shared helpers for the benchmarks: arguments, timing, a table, the RESULT line.

A benchmark module does::

    args = parse_args("what it measures")
    ours = measure(lambda: run_ours(data), repeat=args.repeat)
    anchor = measure(lambda: run_anchor(data), repeat=args.repeat)
    table = Table(["case", "ours", "anchor", "ratio"])
    ...
    table.print()
    result_line("sharding", ours_rate, anchor_rate, "Mrows/s")

Timings are medians of several runs on a shared, noisy machine: compare the
ratio measured in one run, never absolute figures across runs.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Timing:
    """Seconds per call over several runs."""

    runs: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def measure(
    fn: Callable[[], object],
    *,
    repeat: int = 5,
    number: int = 1,
    warmup: int = 1,
    timer: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Time ``fn``: ``warmup`` untimed calls, then ``repeat`` runs of ``number``.

    Returns:
        Seconds per call for each run.
    """
    if repeat < 1 or number < 1 or warmup < 0:
        raise ValueError(
            f"need repeat >= 1, number >= 1, warmup >= 0; got {repeat}, {number}, "
            f"{warmup}"
        )
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        start = timer()
        for _ in range(number):
            fn()
        runs.append((timer() - start) / number)
    return Timing(tuple(runs))


def ratio(ours: float, anchor: float, *, higher_is_better: bool = True) -> float:
    """``ours / anchor`` oriented so that above 1 means better than the anchor.

    Raises:
        ValueError: a figure is not a positive finite number.
    """
    for label, value in (("ours", ours), ("anchor", anchor)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{label} must be a positive finite number, got {value}")
    return ours / anchor if higher_is_better else anchor / ours


def format_value(value: float) -> str:
    """Four significant digits; exponent form only below 1e-3 or from 1e6."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.4g}"
    decimals = max(0, 3 - math.floor(math.log10(magnitude)))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_result(
    name: str, ours: float, anchor: float, unit: str, *, higher_is_better: bool = True
) -> str:
    """The ``RESULT`` line for a benchmark.

    Raises:
        ValueError: ``name`` or ``unit`` contains whitespace or ``=``, or a
            figure is not positive.
    """
    for label, text in (("name", name), ("unit", unit)):
        if not text or any(c.isspace() or c == "=" for c in text):
            raise ValueError(f"{label} must be one word without '=', got {text!r}")
    value = ratio(ours, anchor, higher_is_better=higher_is_better)
    return (
        f"RESULT name={name} ours={format_value(ours)} anchor={format_value(anchor)} "
        f"unit={unit} ratio={value:.3f}"
    )


def result_line(
    name: str, ours: float, anchor: float, unit: str, higher_is_better: bool = True
) -> str:
    """Print the ``RESULT`` line (the benchmark's last output) and return it."""
    line = format_result(name, ours, anchor, unit, higher_is_better=higher_is_better)
    print(line, flush=True)
    return line


@dataclass
class Table:
    """A plain text table: left-aligned text, right-aligned numbers."""

    columns: Sequence[str]
    rows: list[list[str]] = field(default_factory=list)

    def add_row(self, *values: object) -> None:
        if len(values) != len(self.columns):
            raise ValueError(
                f"row has {len(values)} values for {len(self.columns)} columns"
            )
        self.rows.append(
            [format_value(v) if isinstance(v, float) else str(v) for v in values]
        )

    def render(self) -> str:
        cells = [list(self.columns), *self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        numeric = [
            all(_is_number(row[i]) for row in self.rows) and bool(self.rows)
            for i in range(len(self.columns))
        ]

        def line(row: Sequence[str]) -> str:
            parts = [
                cell.rjust(w) if num else cell.ljust(w)
                for cell, w, num in zip(row, widths, numeric, strict=True)
            ]
            return "  ".join(parts).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([line(self.columns), rule, *(line(r) for r in self.rows)])

    def print(self) -> None:
        print(self.render(), flush=True)


def parse_args(
    description: str, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """``--quick`` (small sizes, fewer repeats) and ``--repeat N``.

    ``repeat`` defaults to 3 with ``--quick`` and 5 otherwise.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and fewer repeats"
    )
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per case")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    return args


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("x"))
    except ValueError:
        return False
    return True
