"""The benchmark convention: the RESULT line, its orientation, timing helpers."""

from __future__ import annotations

import itertools
import math
import re

import pytest

from benchmarks import sharding
from benchmarks._harness import (
    Table,
    Timing,
    format_result,
    format_value,
    measure,
    parse_args,
    ratio,
    result_line,
)

pytestmark = pytest.mark.unit

RESULT_RE = re.compile(
    r"^RESULT name=\S+ ours=\S+ anchor=\S+ unit=\S+ ratio=\d+\.\d{3}$"
)


def test_the_result_line_has_the_agreed_fields_in_order() -> None:
    line = format_result("tfrecord_read", 1.5e6, 1.2e6, "rec/s")

    assert line == (
        "RESULT name=tfrecord_read ours=1.5e+06 anchor=1.2e+06 unit=rec/s ratio=1.250"
    )


def test_a_higher_is_better_ratio_is_ours_over_the_anchor() -> None:
    assert ratio(30.0, 20.0) == 1.5
    assert format_result("x", 10.0, 20.0, "ops/s").endswith("ratio=0.500")


def test_a_lower_is_better_ratio_is_flipped_so_above_one_is_still_better() -> None:
    line = format_result("serving_latency", 0.5, 1.0, "ms", higher_is_better=False)

    assert line == "RESULT name=serving_latency ours=0.5 anchor=1 unit=ms ratio=2.000"


def test_result_line_prints_the_line_and_returns_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = result_line("sharding", 4.0, 2.0, "Mrows/s")

    assert capsys.readouterr().out == line + "\n"
    assert RESULT_RE.match(line)


@pytest.mark.parametrize(
    ("name", "unit"),
    [("two words", "s"), ("n", "rec per s"), ("a=b", "s"), ("", "s")],
    ids=["space-in-name", "space-in-unit", "equals", "empty"],
)
def test_names_and_units_must_be_single_words(name: str, unit: str) -> None:
    with pytest.raises(ValueError, match="must be one word"):
        format_result(name, 1.0, 1.0, unit)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_a_figure_that_is_not_positive_and_finite_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="positive finite"):
        ratio(bad, 1.0)
    with pytest.raises(ValueError, match="positive finite"):
        ratio(1.0, bad)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (0.5, "0.5"),
        (12.3456, "12.35"),
        (1234.0, "1234"),
        (123456.0, "123456"),
        (2.5e7, "2.5e+07"),
        (0.0001234, "0.0001234"),
    ],
)
def test_values_are_printed_with_four_significant_digits(
    value: float, text: str
) -> None:
    assert format_value(value) == text


def test_measure_warms_up_then_times_each_run_per_call() -> None:
    calls = []
    ticks = itertools.count(0.0, 2.0)

    timing = measure(
        lambda: calls.append(1), repeat=3, number=4, warmup=2, timer=lambda: next(ticks)
    )

    assert len(calls) == 2 + 3 * 4
    assert timing.runs == (0.5, 0.5, 0.5)


def test_timing_reports_the_best_and_the_median() -> None:
    timing = Timing((3.0, 1.0, 2.0, 10.0))

    assert timing.best == 1.0
    assert timing.median == 2.5


def test_measure_refuses_zero_repeats() -> None:
    with pytest.raises(ValueError, match="repeat >= 1"):
        measure(lambda: None, repeat=0)


def test_the_table_right_aligns_numbers_and_left_aligns_text() -> None:
    table = Table(["case", "rate"])
    table.add_row("small", 1.5)
    table.add_row("a longer case", 1234.0)

    lines = table.render().splitlines()

    assert lines[0] == "case           rate"
    assert lines[1] == "-------------  ----"
    assert lines[2] == "small           1.5"
    assert lines[3] == "a longer case  1234"


def test_a_row_with_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="2 values for 3 columns"):
        Table(["a", "b", "c"]).add_row(1, 2)


def test_quick_runs_default_to_fewer_repeats() -> None:
    assert parse_args("x", ["--quick"]).repeat == 3
    assert parse_args("x", []).repeat == 5
    assert parse_args("x", ["--repeat", "7"]).repeat == 7


def test_a_repeat_below_one_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        parse_args("x", ["--repeat", "0"])


def test_the_sharding_benchmark_ends_with_a_result_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sharding.main(["--quick", "--repeat", "1"])

    lines = capsys.readouterr().out.strip().splitlines()
    assert RESULT_RE.match(lines[-1])
    assert lines[-1].startswith("RESULT name=sharding_dedup_sum ")
