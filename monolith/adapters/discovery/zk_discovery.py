"""Discovery in ZooKeeper (kazoo): ephemeral nodes, watches, re-registration."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    KazooException,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.recipe.watchers import DataWatch
from kazoo.retry import KazooRetry
from kazoo.security import make_digest_acl

from monolith.adapters.discovery.closing import ClosingDiscovery
from monolith.domain.addresses import (
    node_name,
    parse_node_name,
    validate_address,
    validate_role,
)
from monolith.domain.errors import DiscoveryError

logger = logging.getLogger(__name__)

ROOT = "/monolith"
DEFAULT_REGISTRATION_PERIOD = 30 * 60.0

T = TypeVar("T")


class ZkDiscovery(ClosingDiscovery):
    """ServiceDiscovery in ZooKeeper, laid out as the original Monolith does.

    Backend: kazoo. Task ``index`` of role ``name`` is the ephemeral node
    ``/monolith/<job_name>/<name>.<index>`` holding the UTF-8 ``host:port``.
    A children watch on the job node plus a data watch per child keep a local
    ``{name: {index: addr}}`` view that :meth:`query` copies; ``register`` and
    ``deregister`` return once the view shows their change.

    Registrations made here are kept alive: after the session is lost
    (expired by the server, or a server restart outlived the session timeout)
    and the client reconnects, every registration is written again; a
    background thread also rewrites them every ``registration_period`` seconds
    (30 min, as the original), repairing nodes someone else changed. A node
    left by an older session of ours is replaced, not reused.

    Config keys: ``zk_server`` (``host:port[,host:port...][/chroot]``; a
    chroot node is created if missing), ``deep_insight_name`` / job name, and
    ``ZK_AUTH`` (``user:password``, read by the app layer and passed here as
    ``auth``). With ``auth`` the client authenticates with the ``digest``
    scheme and the job node and its children get an ACL granting all
    permissions to that identity only, so other identities can neither read
    nor change the job's registrations.

    Args:
        client_or_hosts: a started ``KazooClient`` (kept open by ``close``;
            its auth is the caller's, but ``auth`` is still added to it), or
            a hosts string, for which this object builds, starts and stops
            its own client.
        job_name: the job's node name under ``/monolith``.
        auth: ``user:password`` for digest auth and ACLs, or None.
        session_timeout: ZooKeeper session timeout in seconds (own client).
        connect_timeout: seconds to wait for the first connection.
        registration_period: seconds between periodic re-registrations.
        view_timeout: how long ``register``/``deregister`` wait for the
            watches to show their change before logging a warning.

    Warning:
        An ACL is set only when this object creates the job node; a job node
        that already exists keeps its ACL. The ``/monolith`` root itself stays
        open so that several jobs (and identities) can share a server.
    """

    def __init__(
        self,
        client_or_hosts: KazooClient | str,
        job_name: str,
        *,
        auth: str | None = None,
        session_timeout: float = 10.0,
        connect_timeout: float = 15.0,
        registration_period: float = DEFAULT_REGISTRATION_PERIOD,
        view_timeout: float = 10.0,
    ) -> None:
        if not job_name or "/" in job_name:
            raise DiscoveryError(
                f"invalid ZooKeeper job name {job_name!r}: expected a non-empty "
                "name without '/'"
            )
        self._job_path = f"{ROOT}/{job_name}"
        self._registration_period = registration_period
        self._view_timeout = view_timeout
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._view: dict[str, dict[int, str]] = {}
        self._watched: set[str] = set()
        self._own: dict[tuple[str, int], str] = {}
        self._closed = False
        self._lost = False
        self._wake = threading.Event()
        self._retry = KazooRetry(max_tries=3, delay=0.5, max_delay=5.0)
        self._acl = _digest_acl(auth) if auth else None

        if isinstance(client_or_hosts, str):
            self._owns_client = True
            self._client = _start_client(
                client_or_hosts, auth, session_timeout, connect_timeout
            )
        else:
            self._owns_client = False
            self._client = client_or_hosts
            if auth:
                user = auth.partition(":")[0]
                self._call(
                    f"add digest auth for {user!r}",
                    self._client.add_auth,
                    "digest",
                    auth,
                )

        try:
            self._call(f"create {ROOT}", self._client.ensure_path, ROOT)
            self._call(
                f"create {self._job_path}",
                self._client.ensure_path,
                self._job_path,
                acl=self._acl,
            )
            self._client.add_listener(self._on_state)
            self._call(f"watch {self._job_path}", self._watch_children)
        except BaseException:
            self._stop_client()
            raise
        self._keeper = threading.Thread(
            target=self._keep_registered, name=f"zk-discovery-{job_name}", daemon=True
        )
        self._keeper.start()
        logger.info("zk discovery started job_path=%s", self._job_path)

    # ------------------------------------------------------------------ port

    def register(self, name: str, index: int, addr: str) -> None:
        validate_address(addr)
        path = f"{self._job_path}/{node_name(name, index)}"
        with self._lock:
            self._check_open()
            previous = self._own.get((name, index))
            self._own[(name, index)] = addr
        try:
            self._call(f"register {path}", self._write_node, path, addr)
        except DiscoveryError:
            with self._lock:
                if previous is None:
                    self._own.pop((name, index), None)
                else:
                    self._own[(name, index)] = previous
            raise
        self._await_view(name, index, addr)
        logger.info("registered path=%s addr=%s", path, addr)

    def deregister(self, name: str, index: int, addr: str) -> None:
        validate_role(name, index)
        validate_address(addr)
        path = f"{self._job_path}/{node_name(name, index)}"
        with self._lock:
            self._check_open()
            if self._own.get((name, index)) == addr:
                del self._own[(name, index)]
        if self._call(f"deregister {path}", self._delete_node, path, addr):
            self._await_view(name, index, None)
            logger.info("deregistered path=%s addr=%s", path, addr)

    def query(self, name: str) -> dict[int, str]:
        validate_role(name, 0)
        with self._lock:
            self._check_open()
            return dict(self._view.get(name, {}))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            own = list(self._own.items())
            self._own.clear()
        for (name, index), addr in own:
            path = f"{self._job_path}/{node_name(name, index)}"
            try:
                self._call(
                    f"deregister {path}", self._delete_node, path, addr, only_own=True
                )
            except DiscoveryError as exc:
                logger.warning("deregistration failed path=%s error=%s", path, exc)
        with self._lock:
            self._closed = True
        self._wake.set()
        self._client.remove_listener(self._on_state)
        self._stop_client()
        if self._keeper is not threading.current_thread():
            self._keeper.join(timeout=5.0)
        logger.info("zk discovery closed job_path=%s", self._job_path)

    # ------------------------------------------------------- znode writing

    def _write_node(self, path: str, addr: str) -> None:
        data = addr.encode("utf-8")
        session_id = self._client.client_id[0] if self._client.client_id else None
        try:
            self._retry(self._client.create, path, data, acl=self._acl, ephemeral=True)
            return
        except NodeExistsError:
            pass
        except NoNodeError:
            # The job node itself was removed; recreate it, then the child.
            self._retry(self._client.ensure_path, ROOT)
            self._retry(self._client.ensure_path, self._job_path, acl=self._acl)
            self._retry(self._client.create, path, data, acl=self._acl, ephemeral=True)
            return
        value, stat = self._retry(self._client.get, path)
        if stat.ephemeralOwner != session_id:
            # Left by another (possibly dead) session: ours must own it, or it
            # vanishes when that session expires.
            self._retry(self._client.delete, path, version=stat.version)
            self._retry(self._client.create, path, data, acl=self._acl, ephemeral=True)
        elif value != data:
            self._retry(self._client.set, path, data, version=stat.version)

    def _delete_node(self, path: str, addr: str, only_own: bool = False) -> bool:
        try:
            value, stat = self._retry(self._client.get, path)
        except NoNodeError:
            return False
        if value != addr.encode("utf-8"):
            return False
        session_id = self._client.client_id[0] if self._client.client_id else None
        if only_own and stat.ephemeralOwner != session_id:
            return False  # a newer process took the task over; leave its node
        try:
            self._retry(self._client.delete, path, version=stat.version)
        except NoNodeError:
            return False
        return True

    # ------------------------------------------------------- the local view

    def _watch_children(self, event: Any = None) -> None:
        """Read the job's children and leave a watch; survive its deletion.

        kazoo's ChildrenWatch stops for good when the watched node is deleted
        (say, by a server that lost its state); this one then watches for the
        node to come back.
        """
        if self._closed:
            return
        try:
            children = self._client.get_children(
                self._job_path, watch=self._on_children_event
            )
        except NoNodeError:
            if self._client.exists(self._job_path, watch=self._on_children_event):
                self._client.handler.spawn(self._watch_children_logged)
            return
        self._on_children(children)

    def _on_children_event(self, event: Any) -> None:
        self._client.handler.spawn(self._watch_children_logged)

    def _watch_children_logged(self) -> None:
        try:
            self._watch_children()
        except (KazooException, KazooTimeoutError) as exc:
            # The next CONNECTED transition or re-registration pass retries.
            logger.warning(
                "children watch failed path=%s error=%s", self._job_path, exc
            )

    def _on_children(self, children: list[str]) -> None:
        with self._lock:
            if self._closed:
                return
            fresh = [c for c in children if c not in self._watched]
            self._watched.update(fresh)
        for child in fresh:
            parsed = parse_node_name(child)
            if parsed is None:
                logger.debug("ignoring node path=%s/%s", self._job_path, child)
                continue
            DataWatch(
                self._client, f"{self._job_path}/{child}", self._data_callback(*parsed)
            )

    def _data_callback(
        self, name: str, index: int
    ) -> Callable[[bytes | None, Any, Any], bool]:
        def on_data(data: bytes | None, stat: Any, event: Any = None) -> bool:
            addr = data.decode("utf-8", errors="replace").strip() if data else ""
            with self._changed:
                if self._closed:
                    return False
                role = self._view.setdefault(name, {})
                if addr:
                    role[index] = addr
                else:
                    role.pop(index, None)
                if not role:
                    del self._view[name]
                self._changed.notify_all()
            return True

        return on_data

    def _await_view(self, name: str, index: int, addr: str | None) -> None:
        def shows() -> bool:
            return self._closed or self._view.get(name, {}).get(index) == addr

        with self._changed:
            seen = self._changed.wait_for(shows, timeout=self._view_timeout)
        if not seen:
            logger.warning(
                "local view lagging name=%s index=%d expected=%s timeout=%.1f",
                name,
                index,
                addr,
                self._view_timeout,
            )

    # ----------------------------------------------- keeping registrations

    def _on_state(self, state: str) -> None:
        if state == KazooState.LOST:
            self._lost = True
            logger.warning("zk session lost job_path=%s", self._job_path)
        elif state == KazooState.SUSPENDED:
            logger.warning("zk connection suspended job_path=%s", self._job_path)
        elif state == KazooState.CONNECTED:
            if self._lost:
                logger.info("zk session re-established job_path=%s", self._job_path)
                # Watches die with a session; set them again on the new one.
                self._client.handler.spawn(self._watch_children_logged)
            self._lost = False
            self._wake.set()

    def _keep_registered(self) -> None:
        wait = self._registration_period
        while True:
            self._wake.wait(timeout=wait)
            self._wake.clear()
            with self._lock:
                if self._closed:
                    return
                own = list(self._own.items())
            wait = self._registration_period
            for (name, index), addr in own:
                path = f"{self._job_path}/{node_name(name, index)}"
                try:
                    self._call(f"re-register {path}", self._write_node, path, addr)
                except DiscoveryError as exc:
                    logger.warning("re-registration failed path=%s error=%s", path, exc)
                    wait = min(wait, 1.0)

    # --------------------------------------------------------------- helpers

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except NoAuthError as exc:
            raise DiscoveryError(
                f"ZooKeeper refused to {what}: not authorised (check ZK_AUTH; the "
                f"job's nodes may belong to another identity)"
            ) from exc
        except (KazooException, KazooTimeoutError) as exc:
            raise DiscoveryError(
                f"ZooKeeper failed to {what}: {type(exc).__name__}: {exc}"
            ) from exc

    def _check_open(self) -> None:
        if self._closed:
            raise DiscoveryError(
                f"zk discovery on {self._job_path!r} is closed; create a new one"
            )

    def _stop_client(self) -> None:
        if self._owns_client:
            try:
                self._client.stop()
                self._client.close()
            except KazooException as exc:
                logger.warning("zk client stop failed error=%s", exc)


def _digest_acl(auth: str) -> list[Any]:
    user, sep, password = auth.partition(":")
    if not sep or not user:
        raise DiscoveryError(
            "invalid ZK_AUTH value: expected 'user:password' (the password is "
            "not shown)"
        )
    return [make_digest_acl(user, password, all=True)]


def _start_client(
    hosts: str, auth: str | None, session_timeout: float, connect_timeout: float
) -> KazooClient:
    servers, slash, chroot = hosts.partition("/")
    if not servers:
        raise DiscoveryError(
            f"invalid ZooKeeper hosts {hosts!r}: expected "
            "host:port[,host:port][/chroot]"
        )
    for server in servers.split(","):
        validate_address(server.strip())
    auth_data = [("digest", auth)] if auth else None
    if slash and chroot.strip("/"):
        bootstrap = _connect(servers, auth_data, session_timeout, connect_timeout)
        try:
            bootstrap.ensure_path("/" + chroot.strip("/"))
        except KazooException as exc:
            raise DiscoveryError(
                f"cannot create ZooKeeper chroot {'/' + chroot!r} on {servers!r}: {exc}"
            ) from exc
        finally:
            bootstrap.stop()
            bootstrap.close()
    return _connect(hosts, auth_data, session_timeout, connect_timeout)


def _connect(
    hosts: str,
    auth_data: list[tuple[str, str]] | None,
    session_timeout: float,
    connect_timeout: float,
) -> KazooClient:
    client = KazooClient(
        hosts=hosts,
        timeout=session_timeout,
        auth_data=auth_data,
        connection_retry=KazooRetry(max_tries=-1, delay=0.2, max_delay=2.0),
    )
    try:
        client.start(timeout=connect_timeout)
    except (KazooTimeoutError, KazooException) as exc:
        client.close()
        raise DiscoveryError(
            f"cannot connect to ZooKeeper {hosts!r} within {connect_timeout:.0f} s: "
            f"{exc}"
        ) from exc
    return client
