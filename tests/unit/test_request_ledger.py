"""The PS request ledger: each update request id runs once, retries do not."""

from __future__ import annotations

import threading

import pytest

from monolith.adapters.parameters.request_ledger import RequestLedger

pytestmark = pytest.mark.unit


def test_a_request_id_seen_before_is_not_run_again() -> None:
    ledger = RequestLedger()
    runs: list[str] = []

    assert ledger.run_once("a-1", lambda: runs.append("first"))
    assert not ledger.run_once("a-1", lambda: runs.append("retry"))
    assert ledger.run_once("a-2", lambda: runs.append("next"))

    assert runs == ["first", "next"]


def test_requests_without_an_id_always_run() -> None:
    ledger = RequestLedger()
    runs: list[int] = []

    ledger.run_once("", lambda: runs.append(1))
    ledger.run_once("", lambda: runs.append(2))

    assert runs == [1, 2] and len(ledger) == 0


def test_a_failed_attempt_is_forgotten_so_its_retry_runs() -> None:
    ledger = RequestLedger()
    runs: list[str] = []

    def fail() -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        ledger.run_once("a-1", fail)
    assert ledger.run_once("a-1", lambda: runs.append("retry"))
    assert runs == ["retry"]


def test_a_retry_arriving_during_the_first_attempt_waits_and_does_not_run() -> None:
    ledger = RequestLedger()
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []
    answers: list[bool] = []

    def slow() -> None:
        started.set()
        release.wait(10)
        runs.append("first")

    first = threading.Thread(target=lambda: answers.append(ledger.run_once("x", slow)))
    first.start()
    assert started.wait(10)
    retry = threading.Thread(
        target=lambda: answers.append(ledger.run_once("x", lambda: runs.append("2")))
    )
    retry.start()
    retry.join(0.2)
    assert retry.is_alive()  # waiting for the first attempt's outcome
    release.set()
    first.join(10)
    retry.join(10)

    assert runs == ["first"] and sorted(answers) == [False, True]


def test_the_oldest_finished_ids_are_forgotten_beyond_the_capacity() -> None:
    ledger = RequestLedger(capacity=2)
    runs: list[str] = []
    for key in ("a", "b", "c"):
        ledger.run_once(key, lambda key=key: runs.append(key))

    assert len(ledger) == 2
    assert ledger.run_once("a", lambda: runs.append("a again"))
    assert not ledger.run_once("c", lambda: runs.append("c again"))
    assert runs == ["a", "b", "c", "a again"]


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        RequestLedger(capacity=0)
