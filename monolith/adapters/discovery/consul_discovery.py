"""Discovery in Consul (py-consul): TTL-checked services, health lookups."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import consul
from consul.exceptions import ACLPermissionDenied, ConsulException, Timeout

from monolith.adapters.discovery.closing import ClosingDiscovery
from monolith.domain.addresses import parse_address, validate_role
from monolith.domain.errors import DiscoveryError
from monolith.ports.clock import Clock

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ConsulDiscovery(ClosingDiscovery):
    """ServiceDiscovery in Consul, with the original's retry and blacklist rules.

    Backend: py-consul against a Consul agent's HTTP API. Every task is an
    agent service of Consul service ``service`` (the job's psm) with id
    ``<service>-<name>.<index>``, tags ``name:<name>``, ``index:<index>``,
    ``ip:<host>``, the task's address and port, and a TTL check
    (``ttl_secs``, 60 s) that a daemon thread passes every ``heartbeat_secs``
    (30 s). ``query`` reads ``/v1/health/service/<service>?passing`` so only
    tasks whose checks pass are listed.

    ``register`` first removes every record of the same (name, index) (up
    to ``max_tries`` rounds ``retry_time_secs`` apart), registers, passes the
    check, then polls every ``poll_secs`` up to ``max_polls`` times (5 s x 36,
    as the original) until the task is visible; a task that never appears
    means Consul filters this machine out: DiscoveryError "blacklisted". Each
    HTTP call is retried ``http_retries`` (5) times on connection errors
    with a random 0-5 s back-off; the last error becomes a DiscoveryError.

    Config keys: ``consul_addr`` (``host:port`` of the agent; the app layer
    may take it from ``CONSUL_HTTP_ADDR``), ``CONSUL_HTTP_TOKEN`` (the ACL
    token, passed here as ``token`` and sent as ``X-Consul-Token``).

    Tested against a Consul-HTTP-API test server on loopback
    (``tests/contract/consul_api_server.py``: agent service register and
    deregister, TTL pass/fail/expiry, health lookups with ``passing``, ACL
    tokens, per-address blacklisting); when ``CONSUL_HTTP_ADDR`` is set the
    same contract suite also runs against that real agent.

    Warning:
        Deregistering a task registered through another agent only works if
        that agent is the one this client talks to (Consul agent services
        belong to their agent). IPv6 addresses are accepted (the original
        refused them).
    """

    def __init__(
        self,
        client_or_addr: Any,
        service: str,
        *,
        token: str | None = None,
        clock: Clock | None = None,
        ttl_secs: float = 60.0,
        heartbeat_secs: float = 30.0,
        retry_time_secs: float = 3.0,
        max_tries: int = 5,
        poll_secs: float = 5.0,
        max_polls: int = max(2, 180 // 5),
        http_retries: int = 5,
        max_backoff_secs: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        if not service:
            raise DiscoveryError("invalid Consul service name '': expected the psm")
        if isinstance(client_or_addr, str):
            addr = parse_address(client_or_addr)
            self._client = consul.Consul(host=addr.host, port=addr.port, token=token)
        else:
            self._client = client_or_addr
        if clock is None:
            from monolith.adapters.clock.system import SystemClock

            clock = SystemClock()
        self._clock = clock
        self._service = service
        self._token = token
        self._ttl = ttl_secs
        self._heartbeat_secs = heartbeat_secs
        self._retry_time = retry_time_secs
        self._max_tries = max_tries
        self._poll_secs = poll_secs
        self._max_polls = max_polls
        self._http_retries = max(1, http_retries)
        self._max_backoff = max_backoff_secs
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._own: dict[tuple[str, int], str] = {}
        self._closed = False
        self._stop = threading.Event()
        self._heart = threading.Thread(
            target=self._beat, name=f"consul-heartbeat-{service}", daemon=True
        )
        self._heart.start()

    # ------------------------------------------------------------------ port

    def register(self, name: str, index: int, addr: str) -> None:
        validate_role(name, index)
        parsed = parse_address(addr)
        with self._lock:
            self._check_open()
        self._remove_records(name, index)
        sid = self._service_id(name, index)
        self._http(
            f"register {sid}",
            self._client.agent.service.register,
            self._service,
            service_id=sid,
            address=parsed.host,
            port=parsed.port,
            tags=[f"name:{name}", f"index:{index}", f"ip:{parsed.host}"],
            check={"TTL": f"{self._ttl:g}s", "CheckID": self._check_id(sid)},
            token=self._token,
        )
        with self._lock:
            self._own[(name, index)] = addr
        self._pass(sid)
        for attempt in range(self._max_polls):
            if self._lookup().get(name, {}).get(index) == addr:
                logger.info("registered service_id=%s addr=%s", sid, addr)
                return
            if attempt + 1 < self._max_polls:
                self._clock.sleep(self._poll_secs)
        raise DiscoveryError(
            f"{name}:{index} at {addr!r} never became visible in Consul service "
            f"{self._service!r} after {self._max_polls} polls: this machine is "
            "blacklisted by consul"
        )

    def deregister(self, name: str, index: int, addr: str) -> None:
        validate_role(name, index)
        parse_address(addr)
        with self._lock:
            self._check_open()
            if self._own.get((name, index)) == addr:
                del self._own[(name, index)]
        for entry in self._entries(passing=False):
            if entry[:3] == (name, index, addr):
                self._deregister_id(entry[3])

    def query(self, name: str) -> dict[int, str]:
        validate_role(name, 0)
        with self._lock:
            self._check_open()
        return dict(self._lookup().get(name, {}))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            own = list(self._own)
            self._own.clear()
            self._closed = True
        self._stop.set()
        for name, index in own:
            try:
                self._deregister_id(self._service_id(name, index))
            except DiscoveryError as exc:
                logger.warning(
                    "deregistration failed name=%s index=%d error=%s", name, index, exc
                )
        if self._heart is not threading.current_thread():
            self._heart.join(timeout=5.0)

    # ------------------------------------------------------------- helpers

    def _service_id(self, name: str, index: int) -> str:
        return f"{self._service}-{name}.{index}"

    @staticmethod
    def _check_id(service_id: str) -> str:
        return f"service:{service_id}"

    def _pass(self, sid: str) -> None:
        self._http(
            f"pass check of {sid}",
            self._client.agent.check.ttl_pass,
            self._check_id(sid),
            token=self._token,
        )

    def _beat(self) -> None:
        while not self._stop.wait(self._heartbeat_secs):
            with self._lock:
                own = list(self._own)
            for name, index in own:
                try:
                    self._pass(self._service_id(name, index))
                except DiscoveryError as exc:
                    logger.warning(
                        "heartbeat failed name=%s index=%d error=%s", name, index, exc
                    )

    def _entries(self, passing: bool) -> list[tuple[str, int, str, str]]:
        """``(name, index, addr, service_id)`` of every record of the service."""
        _, nodes = self._http(
            f"look up service {self._service!r}",
            self._client.health.service,
            self._service,
            passing=passing,
            token=self._token,
        )
        found = []
        for node in nodes or []:
            svc = node.get("Service", {})
            tags = dict(t.split(":", 1) for t in svc.get("Tags") or [] if ":" in t)
            if "name" not in tags or not tags.get("index", "").isdigit():
                continue
            host = tags.get("ip") or svc.get("Address", "")
            addr = (
                f"[{host}]:{svc.get('Port')}"
                if ":" in host
                else (f"{host}:{svc.get('Port')}")
            )
            found.append((tags["name"], int(tags["index"]), addr, str(svc.get("ID"))))
        return found

    def _lookup(self) -> dict[str, dict[int, str]]:
        grouped: dict[str, dict[int, str]] = {}
        for name, index, addr, _ in self._entries(passing=True):
            grouped.setdefault(name, {})[index] = addr
        return grouped

    def _remove_records(self, name: str, index: int) -> None:
        for _ in range(self._max_tries):
            stale = [e for e in self._entries(passing=False) if e[:2] == (name, index)]
            if not stale:
                return
            for entry in stale:
                self._deregister_id(entry[3])
            self._clock.sleep(self._retry_time)
        raise DiscoveryError(
            f"could not remove the old Consul records of {name}:{index} in "
            f"{self._service!r} after {self._max_tries} tries"
        )

    def _deregister_id(self, sid: str) -> None:
        self._http(
            f"deregister {sid}",
            self._client.agent.service.deregister,
            sid,
            token=self._token,
        )

    def _http(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        for attempt in range(1, self._http_retries + 1):
            try:
                return fn(*args, **kwargs)
            except ACLPermissionDenied as exc:
                raise DiscoveryError(
                    f"Consul refused to {what}: permission denied for the ACL token "
                    "(check CONSUL_HTTP_TOKEN)"
                ) from exc
            except (OSError, Timeout) as exc:
                if attempt == self._http_retries:
                    raise DiscoveryError(
                        f"Consul failed to {what} after {attempt} tries: {exc}"
                    ) from exc
                logger.warning(
                    "consul call failed what=%s attempt=%d error=%s", what, attempt, exc
                )
                self._clock.sleep(self._rng.uniform(0, self._max_backoff))
            except ConsulException as exc:
                raise DiscoveryError(f"Consul failed to {what}: {exc}") from exc
        raise AssertionError("unreachable")  # the loop returns or raises

    def _check_open(self) -> None:
        if self._closed:
            raise DiscoveryError(
                f"consul discovery of {self._service!r} is closed; create a new one"
            )
