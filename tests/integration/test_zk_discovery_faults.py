"""ZkDiscovery against real ZooKeeper: node layout, watches, faults and ACLs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from monolith.domain.errors import DiscoveryError
from tests.integration.zk_fixtures import ZkEnsemble, ZkServer, wait_until

kazoo_client = pytest.importorskip("kazoo.client")
kazoo_exceptions = pytest.importorskip("kazoo.exceptions")

from monolith.adapters.discovery.zk_discovery import ZkDiscovery  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KazooClient = kazoo_client.KazooClient
ADDR = "127.0.0.1:4242"


def job() -> str:
    return f"job-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def raw_client(zk_server: ZkServer) -> Iterator[Any]:
    client = KazooClient(hosts=zk_server.hosts, timeout=4.0)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


def node(client: Any, path: str) -> tuple[bytes, Any] | None:
    try:
        return client.get(path)  # type: ignore[no-any-return]
    except kazoo_exceptions.NoNodeError:
        return None


def session_of(client: Any) -> int | None:
    client_id = client.client_id
    return None if client_id is None else int(client_id[0])


def owned_by(client: Any, path: str, session_id: int | None) -> bool:
    found = node(client, path)
    return (
        found is not None
        and found[0] == ADDR.encode()
        and (found[1].ephemeralOwner == session_id)
    )


def test_a_registration_is_an_ephemeral_node_holding_the_address(
    zk_server: ZkServer, raw_client: Any
) -> None:
    name = job()
    discovery = ZkDiscovery(zk_server.hosts, name, session_timeout=4.0)

    discovery.register("ps", 3, ADDR)
    data, stat = raw_client.get(f"/monolith/{name}/ps.3")
    discovery.close()

    assert data == ADDR.encode("utf-8")
    assert stat.ephemeralOwner != 0
    assert raw_client.exists(f"/monolith/{name}/ps.3") is None


def test_registrations_of_another_process_appear_through_watches(
    zk_server: ZkServer,
) -> None:
    name = job()
    with (
        ZkDiscovery(zk_server.hosts, name) as ps,
        ZkDiscovery(zk_server.hosts, name) as worker,
    ):
        ps.register("ps", 0, ADDR)
        assert wait_until(lambda: worker.query("ps") == {0: ADDR})

        ps.register("ps", 0, "127.0.0.1:4343")
        assert wait_until(lambda: worker.query("ps") == {0: "127.0.0.1:4343"})

        ps.deregister("ps", 0, "127.0.0.1:4343")
        assert wait_until(lambda: worker.query("ps") == {})


def test_nodes_that_are_not_tasks_are_ignored(
    zk_server: ZkServer, raw_client: Any
) -> None:
    name = job()
    raw_client.ensure_path(f"/monolith/{name}/ps_cluster_dir")
    raw_client.create(f"/monolith/{name}/ps.x", b"127.0.0.1:1")

    with ZkDiscovery(zk_server.hosts, name) as discovery:
        discovery.register("ps", 0, ADDR)

        assert discovery.query("ps") == {0: ADDR}


def test_periodic_reregistration_repairs_a_tampered_node(
    zk_server: ZkServer, raw_client: Any
) -> None:
    name = job()
    path = f"/monolith/{name}/ps.0"
    with ZkDiscovery(zk_server.hosts, name, registration_period=0.2) as discovery:
        discovery.register("ps", 0, ADDR)

        raw_client.set(path, b"10.9.9.9:1")

        assert wait_until(lambda: raw_client.get(path)[0] == ADDR.encode())
        assert wait_until(lambda: discovery.query("ps") == {0: ADDR})


def test_a_new_process_takes_over_the_node_of_an_old_one(
    zk_server: ZkServer, raw_client: Any
) -> None:
    name = job()
    path = f"/monolith/{name}/ps.0"
    old = ZkDiscovery(zk_server.hosts, name)
    old.register("ps", 0, ADDR)

    new = ZkDiscovery(zk_server.hosts, name)
    new.register("ps", 0, ADDR)
    old.close()

    assert owned_by(raw_client, path, session_of(new._client))
    new.close()


@pytest.mark.slow
def test_a_registration_survives_a_server_restart(zk_private_server: ZkServer) -> None:
    name = job()
    with ZkDiscovery(zk_private_server.hosts, name, session_timeout=2.0) as ps:
        ps.register("ps", 0, ADDR)

        zk_private_server.restart()

        with ZkDiscovery(zk_private_server.hosts, name) as observer:
            assert wait_until(lambda: observer.query("ps") == {0: ADDR})
        assert wait_until(lambda: ps.query("ps") == {0: ADDR})


@pytest.mark.slow
def test_a_registration_reappears_after_the_server_expires_the_session(
    zk_server: ZkServer, raw_client: Any
) -> None:
    name = job()
    path = f"/monolith/{name}/ps.0"
    client = KazooClient(hosts=zk_server.hosts, timeout=2.0)
    client.start(timeout=15)
    ps = ZkDiscovery(client, name)
    ps.register("ps", 0, ADDR)
    old_session = session_of(client)

    # kazoo's own harness forces expiry this way: a second connection with the
    # same session id and password, then closing it, makes the server end it.
    twin = KazooClient(hosts=zk_server.hosts, client_id=client.client_id, timeout=2.0)
    twin.start(timeout=15)
    twin.stop()
    twin.close()

    assert wait_until(lambda: session_of(client) not in (None, old_session), timeout=30)
    assert wait_until(
        lambda: owned_by(raw_client, path, session_of(client)), timeout=30
    )
    assert wait_until(lambda: ps.query("ps") == {0: ADDR})
    ps.close()
    client.stop()
    client.close()


@pytest.mark.slow
def test_a_registration_reappears_after_the_ensemble_leader_is_killed(
    zk_ensemble: ZkEnsemble,
) -> None:
    name = job()
    with ZkDiscovery(zk_ensemble.hosts, name, session_timeout=4.0) as ps:
        ps.register("ps", 0, ADDR)
        leader = zk_ensemble.leader()

        leader.kill()
        survivors = ",".join(s.hosts for s in zk_ensemble.servers if s is not leader)
        try:
            with ZkDiscovery(survivors, name) as observer:
                assert wait_until(lambda: observer.query("ps") == {0: ADDR}, 30)
                ps.register("ps", 1, "127.0.0.1:4243")
                assert wait_until(
                    lambda: observer.query("ps") == {0: ADDR, 1: "127.0.0.1:4243"}
                )
        finally:
            leader.start()


def test_acls_refuse_another_identity(zk_server: ZkServer) -> None:
    name = job()
    path = f"/monolith/{name}"
    with ZkDiscovery(zk_server.hosts, name, auth="trainer:secret") as owner:
        owner.register("ps", 0, ADDR)
        intruder = KazooClient(
            hosts=zk_server.hosts, auth_data=[("digest", "intruder:guess")]
        )
        intruder.start(timeout=15)
        try:
            with pytest.raises(kazoo_exceptions.NoAuthError):
                intruder.get(f"{path}/ps.0")
            with pytest.raises(kazoo_exceptions.NoAuthError):
                intruder.get_children(path)
            with pytest.raises(kazoo_exceptions.NoAuthError):
                intruder.create(f"{path}/ps.1", b"10.0.0.1:1", ephemeral=True)
            with pytest.raises(kazoo_exceptions.NoAuthError):
                intruder.set(f"{path}/ps.0", b"10.0.0.1:1")
        finally:
            intruder.stop()
            intruder.close()

        with pytest.raises(DiscoveryError, match="not authorised"):
            ZkDiscovery(zk_server.hosts, name, auth="intruder:guess")

        with ZkDiscovery(zk_server.hosts, name, auth="trainer:secret") as friend:
            assert friend.query("ps") == {0: ADDR}


def test_an_unreachable_server_raises_discovery_error() -> None:
    from tests.integration.zk_fixtures import free_port

    with pytest.raises(DiscoveryError, match="cannot connect to ZooKeeper"):
        ZkDiscovery(f"127.0.0.1:{free_port()}", job(), connect_timeout=1.0)


def test_a_malformed_zk_auth_is_refused_without_echoing_the_password(
    zk_server: ZkServer,
) -> None:
    with pytest.raises(DiscoveryError) as info:
        ZkDiscovery(zk_server.hosts, job(), auth="no-colon-secret")

    assert "no-colon-secret" not in str(info.value)
