"""The ``TF_CONFIG`` cluster description used by Primus-style launchers (§9.4).

``TF_CONFIG`` is JSON: ``{"cluster": {"chief": [...], "ps": [...], "worker":
[...]}, "task": {"type": "worker", "index": 1}}``. monolith has only two
roles, ``ps`` and ``worker``: the chief is reported as worker 0 and, when a
chief exists, TF's workers shift up by one (TF worker 1 is monolith worker 2).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, NoReturn

import attrs

from monolith.domain.errors import ConfigError, DiscoveryError

logger = logging.getLogger(__name__)

TF_CONFIG_VAR = "TF_CONFIG"
ROLES = ("ps", "worker")
_TASK_TYPES = ("chief", "worker", "ps", "evaluator")


@attrs.frozen
class TfConfig:
    """A parsed ``TF_CONFIG``.

    Attributes:
        cluster: TF job name -> addresses, in TF's order.
        task_type: This process's TF job name (``chief``, ``worker``, ``ps``
            or ``evaluator``).
        task_index: This process's index within ``task_type``.
    """

    cluster: Mapping[str, tuple[str, ...]]
    task_type: str
    task_index: int

    @property
    def has_chief(self) -> bool:
        """Whether the cluster names a chief."""
        return bool(self.cluster.get("chief"))

    @property
    def server_type(self) -> str:
        """This process's monolith role: the chief is a ``worker``."""
        return "worker" if self.task_type == "chief" else self.task_type

    @property
    def index(self) -> int:
        """This process's monolith index: the chief is worker 0."""
        if self.task_type == "chief":
            return 0
        if self.task_type == "worker" and self.has_chief:
            return self.task_index + 1
        return self.task_index

    @property
    def addr(self) -> str:
        """This process's own address."""
        return self.cluster[self.task_type][self.task_index]

    def query(self, name: str) -> dict[int, str]:
        """Monolith index -> address for role ``name``.

        Args:
            name: ``ps`` or ``worker``.

        Returns:
            A new dict; for ``worker`` the chief comes first as index 0.

        Raises:
            DiscoveryError: ``name`` is neither ``ps`` nor ``worker``.
        """
        if name == "ps":
            addrs = self.cluster.get("ps", ())
        elif name == "worker":
            addrs = self.cluster.get("chief", ()) + self.cluster.get("worker", ())
        else:
            raise DiscoveryError(
                f"TF_CONFIG discovery has no role {name!r}: expected one of {ROLES}"
            )
        return dict(enumerate(addrs))

    def to_json(self) -> str:
        """The ``TF_CONFIG`` text describing this cluster and task."""
        return json.dumps(
            {
                "cluster": {k: list(v) for k, v in self.cluster.items()},
                "task": {"type": self.task_type, "index": self.task_index},
            },
            sort_keys=True,
        )


def parse_tf_config(text: str) -> TfConfig:
    """Parse the content of ``TF_CONFIG``.

    Args:
        text: The JSON text.

    Raises:
        ConfigError: the text is not JSON of the expected shape, names an
            unknown task type or an index outside its job; the message names
            ``TF_CONFIG``.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{TF_CONFIG_VAR} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        _fail("must be a JSON object with 'cluster' and 'task'", data)

    cluster = _parse_cluster(data.get("cluster"))
    task = data.get("task")
    if not isinstance(task, dict):
        _fail("needs 'task': {'type': ..., 'index': ...}", task)
    task_type = task.get("type")
    task_index = task.get("index", 0)
    if task_type not in _TASK_TYPES:
        _fail(f"task type must be one of {_TASK_TYPES}", task_type)
    if not isinstance(task_index, int) or isinstance(task_index, bool):
        _fail("task index must be an integer", task_index)
    addrs = cluster.get(task_type, ())
    if not 0 <= task_index < len(addrs):
        raise ConfigError(
            f"{TF_CONFIG_VAR} task {task_type}:{task_index} is not in the cluster: "
            f"expected 0 <= index < {len(addrs)} ({task_type} has {list(addrs)})"
        )
    return TfConfig(cluster=cluster, task_type=task_type, task_index=task_index)


def tf_config_from_env(env: Mapping[str, str]) -> TfConfig | None:
    """The parsed ``TF_CONFIG`` of ``env``, or None when it is unset or empty.

    Raises:
        ConfigError: ``TF_CONFIG`` is set but malformed.
    """
    text = env.get(TF_CONFIG_VAR, "")
    return parse_tf_config(text) if text.strip() else None


def _parse_cluster(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        _fail("needs 'cluster': {job name: [host:port, ...]}", raw)
    cluster: dict[str, tuple[str, ...]] = {}
    for job, addrs in raw.items():
        if not isinstance(addrs, list) or not all(isinstance(a, str) for a in addrs):
            _fail(f"cluster job {job!r} must be a list of 'host:port' strings", addrs)
        cluster[job] = tuple(addrs)
    if len(cluster.get("chief", ())) > 1:
        _fail("cluster may name at most one chief", raw["chief"])
    return cluster


def _fail(what: str, got: Any) -> NoReturn:
    raise ConfigError(f"{TF_CONFIG_VAR} {what}; got {got!r}")
