"""TF_CONFIG roles and the chief mapping (BEHAVIOUR.md §9.4, §9.6)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monolith.domain.errors import ConfigError, DiscoveryError
from monolith.domain.tf_config import parse_tf_config, tf_config_from_env

pytestmark = pytest.mark.unit

CLUSTER = {
    "chief": ["host0:2222"],
    "ps": ["host1:2222", "host2:2222"],
    "worker": ["host3:2222", "host4:2222", "host5:2222"],
}


def tf_config(task_type: str, index: int, cluster: dict[str, Any] = CLUSTER) -> str:
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_tf_config_scenario_from_service_discovery_test() -> None:
    """BEHAVIOUR.md §9.6 ``TfConfigServiceDiscoveryTest``."""
    config = parse_tf_config(tf_config("worker", 1))

    assert config.query("ps") == {0: "host1:2222", 1: "host2:2222"}
    assert config.query("worker") == {
        0: "host0:2222",
        1: "host3:2222",
        2: "host4:2222",
        3: "host5:2222",
    }
    assert config.addr == "host4:2222"
    assert config.server_type == "worker"
    assert config.index == 2


def test_the_chief_is_reported_as_worker_zero() -> None:
    config = parse_tf_config(tf_config("chief", 0))

    assert (config.server_type, config.index, config.addr) == (
        "worker",
        0,
        "host0:2222",
    )


def test_a_ps_keeps_its_index() -> None:
    config = parse_tf_config(tf_config("ps", 1))

    assert (config.server_type, config.index, config.addr) == ("ps", 1, "host2:2222")


def test_without_a_chief_workers_keep_their_index() -> None:
    cluster = {"ps": ["p:1"], "worker": ["w0:1", "w1:1"]}

    config = parse_tf_config(tf_config("worker", 1, cluster))

    assert config.index == 1
    assert config.query("worker") == {0: "w0:1", 1: "w1:1"}


def test_query_returns_a_new_dict_each_time() -> None:
    config = parse_tf_config(tf_config("worker", 0))

    config.query("ps")[0] = "tampered"

    assert config.query("ps")[0] == "host1:2222"


def test_querying_another_role_is_a_discovery_error() -> None:
    config = parse_tf_config(tf_config("worker", 0))

    with pytest.raises(DiscoveryError, match="no role 'evaluator'"):
        config.query("evaluator")


def test_to_json_round_trips() -> None:
    config = parse_tf_config(tf_config("ps", 0))

    assert parse_tf_config(config.to_json()) == config


def test_an_unset_or_blank_tf_config_is_none() -> None:
    assert tf_config_from_env({}) is None
    assert tf_config_from_env({"TF_CONFIG": "  "}) is None


def test_tf_config_is_read_from_an_env_mapping() -> None:
    config = tf_config_from_env({"TF_CONFIG": tf_config("chief", 0)})

    assert config is not None
    assert config.task_type == "chief"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"task": {"type": "ps", "index": 0}}', "needs 'cluster'"),
        (json.dumps({"cluster": CLUSTER}), "needs 'task'"),
        (tf_config("master", 0), "task type must be one of"),
        (tf_config("ps", 2), "task ps:2 is not in the cluster"),
        (tf_config("worker", -1), "task worker:-1 is not in the cluster"),
        (
            json.dumps({"cluster": CLUSTER, "task": {"type": "ps", "index": "0"}}),
            "index",
        ),
        (tf_config("ps", 0, {"ps": "p:1"}), "must be a list"),
        (tf_config("chief", 0, {"chief": ["a:1", "b:1"]}), "at most one chief"),
    ],
    ids=[
        "bad-json",
        "not-object",
        "no-cluster",
        "no-task",
        "unknown-type",
        "index-past-end",
        "negative-index",
        "string-index",
        "job-not-list",
        "two-chiefs",
    ],
)
def test_a_malformed_tf_config_is_a_config_error_naming_tf_config(
    text: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match="TF_CONFIG") as info:
        parse_tf_config(text)

    assert problem in str(info.value)


@settings(max_examples=100, deadline=None)
@given(
    chiefs=st.integers(min_value=0, max_value=1),
    num_ps=st.integers(min_value=0, max_value=4),
    num_workers=st.integers(min_value=0, max_value=4),
    data=st.data(),
)
def test_every_task_finds_its_own_address_under_its_monolith_role(
    chiefs: int, num_ps: int, num_workers: int, data: st.DataObject
) -> None:
    cluster = {
        "chief": [f"c{i}:1" for i in range(chiefs)],
        "ps": [f"p{i}:1" for i in range(num_ps)],
        "worker": [f"w{i}:1" for i in range(num_workers)],
    }
    tasks = [(job, i) for job, addrs in cluster.items() for i in range(len(addrs))]
    assume(tasks)
    task_type, index = data.draw(st.sampled_from(tasks))

    config = parse_tf_config(tf_config(task_type, index, cluster))

    assert config.query(config.server_type)[config.index] == config.addr
    assert len(config.query("worker")) == chiefs + num_workers
