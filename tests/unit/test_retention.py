"""Checkpoint selection and retention (decisions 1 and 2, BEHAVIOUR.md §4)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.checkpoint import (
    manifest_name,
    parse_manifest_name,
    payload_dir_name,
)
from monolith.domain.errors import CheckpointError, ConfigError, NoCheckpointError
from monolith.domain.retention import (
    CheckpointRecord,
    DeleteAction,
    DeleteKind,
    checkpoint_steps,
    deletion_actions,
    latest_valid,
    parse_protected_list,
    plan_retention,
    render_protected_list,
)

pytestmark = pytest.mark.unit


def records(*steps: int) -> list[CheckpointRecord]:
    return [CheckpointRecord(step) for step in steps]


def save_sequence(
    steps: list[int], max_to_keep: int, protected: set[int]
) -> list[set[int]]:
    """Simulate saving each step and applying retention after every save."""
    existing: set[int] = set()
    history = []
    for step in steps:
        existing.add(step)
        plan = plan_retention(records(*sorted(existing)), max_to_keep, protected)
        existing -= set(plan.delete)
        history.append(set(existing))
    return history


def test_manifest_and_payload_names_carry_the_step() -> None:
    assert manifest_name(120) == "checkpoint-120.json"
    assert payload_dir_name(120) == "checkpoint-120.data"
    assert parse_manifest_name("checkpoint-120.json") == 120
    assert parse_manifest_name("checkpoint-0.json") == 0


@pytest.mark.parametrize(
    "name",
    [
        "checkpoint-007.json",
        "checkpoint--1.json",
        "checkpoint-1.json.tmp",
        "checkpoint-1.data",
        "model.ckpt-1.json",
        "checkpoint-\u0663.json",
        "checkpoint-.json",
    ],
    ids=["leading-zero", "negative", "temp", "payload", "tf-name", "unicode", "empty"],
)
def test_names_that_are_not_manifests_parse_to_none(name: str) -> None:
    assert parse_manifest_name(name) is None


def test_a_negative_step_has_no_manifest_name() -> None:
    with pytest.raises(CheckpointError, match="step must be >= 0"):
        manifest_name(-1)


def test_checkpoint_steps_are_parsed_from_manifest_names_only() -> None:
    names = [
        manifest_name(10),
        manifest_name(20),
        manifest_name(300),
        "checkpoint-20.data",
        "checkpoint.json",
        "monolith_checkpoint.json",
        "events.out.tfevents",
    ]

    steps = checkpoint_steps(names)

    assert steps == (10, 20, 300)


def test_checkpoint_steps_are_sorted_as_integers_not_strings() -> None:
    names = [manifest_name(9), manifest_name(10), manifest_name(100)]

    steps = checkpoint_steps(reversed(names))

    assert steps == (9, 10, 100)


def test_latest_valid_is_the_highest_integer_step() -> None:
    found = records(9, 10, 2)

    assert latest_valid(found, "/m") == 10


def test_latest_valid_skips_checkpoints_that_failed_verification() -> None:
    found = [CheckpointRecord(5), CheckpointRecord(7, valid=False)]

    assert latest_valid(found, "/m") == 5


def test_an_empty_directory_has_no_checkpoint_and_the_error_names_it() -> None:
    with pytest.raises(NoCheckpointError, match="'/models/run1'"):
        latest_valid([], "/models/run1")


def test_only_invalid_checkpoints_is_an_error_listing_their_steps() -> None:
    found = [CheckpointRecord(3, valid=False), CheckpointRecord(1, valid=False)]

    with pytest.raises(NoCheckpointError, match=r"steps \[1, 3\]") as info:
        latest_valid(found, "hdfs://nn/m")

    assert "hdfs://nn/m" in str(info.value)
    assert info.value.exit_code == 5


def test_retention_deletes_oldest_first_beyond_max_to_keep() -> None:
    plan = plan_retention(records(1, 2, 3, 4, 5), max_to_keep=2)

    assert plan.delete == (1, 2, 3)
    assert plan.keep == (4, 5)


def test_max_to_keep_zero_keeps_every_checkpoint() -> None:
    plan = plan_retention(records(*range(1, 50)), max_to_keep=0)

    assert plan.delete == ()
    assert len(plan.keep) == 49


def test_fewer_checkpoints_than_the_limit_deletes_nothing() -> None:
    plan = plan_retention(records(1, 2), max_to_keep=10)

    assert plan.delete == ()


def test_protected_checkpoints_are_kept_and_do_not_count() -> None:
    plan = plan_retention(records(1, 2, 3, 4), max_to_keep=1, protected={1, 3})

    assert plan.delete == (2,)
    assert plan.keep == (1, 3, 4)
    assert plan.protected == (1, 3)


def test_a_protected_step_that_does_not_exist_changes_nothing() -> None:
    plan = plan_retention(records(1, 2, 3), max_to_keep=1, protected={99})

    assert plan.delete == (1, 2)
    assert plan.protected == ()


def test_the_newest_checkpoint_is_kept_with_max_to_keep_one() -> None:
    plan = plan_retention(records(5, 1, 3), max_to_keep=1)

    assert plan.keep == (5,)


def test_invalid_checkpoints_are_neither_counted_nor_deleted() -> None:
    found = [CheckpointRecord(1), CheckpointRecord(2, valid=False), CheckpointRecord(3)]

    plan = plan_retention(found, max_to_keep=1)

    assert plan.delete == (1,)
    assert plan.keep == (3,)


def test_negative_max_to_keep_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_to_keep must be >= 0"):
        plan_retention(records(1), max_to_keep=-1)


def test_a_step_listed_twice_is_an_error() -> None:
    with pytest.raises(CheckpointError, match="step 4 is listed twice"):
        plan_retention(records(4, 4), max_to_keep=1)


def test_exempt_checkpoints_scenario_from_save_utils_test() -> None:
    """BEHAVIOUR.md §4.5 ``test_exempt_checkpoints``, in our naming."""
    history = save_sequence([10, 20, 30, 40, 50, 60], max_to_keep=3, protected={10, 20})

    assert history[4] == {10, 20, 30, 40, 50}
    assert history[5] == {10, 20, 40, 50, 60}


def test_save_max_to_keep_scenario_from_saver_test() -> None:
    """BEHAVIOUR.md §4.5 ``SaverTest.testSaveMaxToKeep``, in our naming."""
    history = save_sequence([1, 2, 3, 4], max_to_keep=2, protected={2})

    assert history[2] == {1, 2, 3}
    assert history[3] == {2, 3, 4}


def test_deleting_a_checkpoint_removes_the_manifest_before_the_payload() -> None:
    actions = deletion_actions("/m", 7)

    assert actions == (
        DeleteAction("/m/checkpoint-7.json", DeleteKind.FILE, 7),
        DeleteAction("/m/checkpoint-7.data", DeleteKind.TREE, 7),
    )


def test_deletion_paths_keep_a_remote_scheme() -> None:
    actions = deletion_actions("hdfs://nn/models/", 3)

    assert [a.path for a in actions] == [
        "hdfs://nn/models/checkpoint-3.json",
        "hdfs://nn/models/checkpoint-3.data",
    ]


def test_plan_actions_go_oldest_checkpoint_first_manifest_then_payload() -> None:
    plan = plan_retention(records(1, 2, 3), max_to_keep=1)

    actions = plan.actions("m")

    assert [(a.step, a.kind) for a in actions] == [
        (1, DeleteKind.FILE),
        (1, DeleteKind.TREE),
        (2, DeleteKind.FILE),
        (2, DeleteKind.TREE),
    ]


def test_protected_list_round_trips() -> None:
    text = render_protected_list([61, 30, 30])

    assert parse_protected_list(text) == frozenset({30, 61})
    assert text == '{"protected_steps": [30, 61]}'


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"protected_steps": 3}', '{"protected_steps": [-1]}'],
    ids=["not-json", "not-object", "not-list", "negative"],
)
def test_a_malformed_protected_list_is_a_checkpoint_error(text: str) -> None:
    with pytest.raises(CheckpointError, match="m/monolith_checkpoint.json"):
        parse_protected_list(text, source="m/monolith_checkpoint.json")


steps_strategy = st.sets(st.integers(min_value=0, max_value=10_000), max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    steps=steps_strategy,
    max_to_keep=st.integers(min_value=0, max_value=12),
    data=st.data(),
)
def test_retention_never_deletes_the_newest_or_a_protected_checkpoint(
    steps: set[int], max_to_keep: int, data: st.DataObject
) -> None:
    protected = data.draw(st.sets(st.sampled_from(sorted(steps)))) if steps else set()

    plan = plan_retention(records(*steps), max_to_keep, protected)

    deleted = set(plan.delete)
    assert not deleted & protected
    if steps:
        assert max(steps) not in deleted
    unprotected = sorted(steps - protected)
    kept_unprotected = [s for s in plan.keep if s not in protected]
    expected = (
        len(unprotected) if max_to_keep == 0 else min(max_to_keep, len(unprotected))
    )
    assert kept_unprotected == unprotected[len(unprotected) - expected :]
    assert deleted | set(plan.keep) == steps
    assert list(plan.delete) == sorted(plan.delete)


@settings(max_examples=100, deadline=None)
@given(
    saves=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=30),
    max_to_keep=st.integers(min_value=1, max_value=5),
)
def test_retention_after_every_save_keeps_at_most_max_to_keep(
    saves: list[int], max_to_keep: int
) -> None:
    steps = list(itertools.accumulate(saves))

    history = save_sequence(steps, max_to_keep, protected=set())

    for saved_step, existing in zip(steps, history, strict=True):
        assert saved_step in existing
        assert len(existing) <= max_to_keep
