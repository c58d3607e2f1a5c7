"""Contract suites for :class:`~monolith.ports.discovery.ServiceDiscovery`.

Subclass :class:`DiscoveryContract` for an adapter that accepts registrations,
or :class:`ReadOnlyDiscoveryContract` for one whose roles come from its
environment, and provide the ``discovery`` fixture::

    class TestInMemoryDiscovery(DiscoveryContract):
        @pytest.fixture
        def discovery(self) -> Iterator[ServiceDiscovery]:
            with InMemoryDiscovery() as d:
                yield d

A writable adapter's fixture must start from an empty registry (a fresh job
name, a fresh directory, ...). A read-only adapter's fixture must describe a
cluster with the roles in :attr:`ReadOnlyDiscoveryContract.known`.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from monolith.domain.errors import DiscoveryError
from monolith.ports.discovery import ServiceDiscovery

BAD_ADDRESSES = [
    "",
    "host",
    "host:",
    ":2222",
    "host:port",
    "host:70000",
    "::1:2222",
    "[::1]2222",
    "[not-ipv6]:2222",
    "bad host:2222",
]


class DiscoveryContract:
    """Behaviour every writable ServiceDiscovery adapter keeps."""

    @pytest.fixture
    def discovery(self) -> ServiceDiscovery:
        raise NotImplementedError("subclasses provide the discovery fixture")

    def test_registered_servers_are_queried_and_deregistered(
        self, discovery: ServiceDiscovery
    ) -> None:
        discovery.register("ps", 0, "127.0.0.1:1000")
        discovery.register("ps", 1, "127.0.0.1:1001")

        assert discovery.query("ps") == {0: "127.0.0.1:1000", 1: "127.0.0.1:1001"}

        discovery.deregister("ps", 0, "127.0.0.1:1000")
        discovery.deregister("ps", 1, "127.0.0.1:1001")

        assert discovery.query("ps") == {}

    def test_an_unknown_name_queries_as_empty(
        self, discovery: ServiceDiscovery
    ) -> None:
        assert discovery.query("serving") == {}

    def test_reregistering_an_index_replaces_its_address(
        self, discovery: ServiceDiscovery
    ) -> None:
        discovery.register("ps", 0, "127.0.0.1:1000")

        discovery.register("ps", 0, "127.0.0.1:1001")

        assert discovery.query("ps") == {0: "127.0.0.1:1001"}

    def test_names_are_isolated_from_each_other(
        self, discovery: ServiceDiscovery
    ) -> None:
        discovery.register("ps", 0, "127.0.0.1:1000")
        discovery.register("worker", 0, "127.0.0.1:2000")

        discovery.deregister("worker", 0, "127.0.0.1:2000")

        assert discovery.query("ps") == {0: "127.0.0.1:1000"}
        assert discovery.query("worker") == {}

    def test_query_returns_a_copy(self, discovery: ServiceDiscovery) -> None:
        discovery.register("ps", 0, "127.0.0.1:1000")

        view = discovery.query("ps")
        view[5] = "10.0.0.1:1"
        view.pop(0)

        assert discovery.query("ps") == {0: "127.0.0.1:1000"}

    def test_ipv6_and_host_name_addresses_round_trip(
        self, discovery: ServiceDiscovery
    ) -> None:
        discovery.register("ps", 0, "[::1]:2222")
        discovery.register("ps", 1, "ps-1.example.com:2223")

        assert discovery.query("ps") == {0: "[::1]:2222", 1: "ps-1.example.com:2223"}

    def test_deregistering_something_never_registered_is_a_no_op(
        self, discovery: ServiceDiscovery
    ) -> None:
        discovery.register("ps", 0, "127.0.0.1:1000")

        discovery.deregister("ps", 3, "127.0.0.1:1003")
        discovery.deregister("worker", 0, "127.0.0.1:1000")

        assert discovery.query("ps") == {0: "127.0.0.1:1000"}

    @pytest.mark.parametrize("addr", BAD_ADDRESSES, ids=repr)
    def test_a_bad_address_is_refused_with_an_error_naming_it(
        self, discovery: ServiceDiscovery, addr: str
    ) -> None:
        with pytest.raises(DiscoveryError) as info:
            discovery.register("ps", 0, addr)

        assert repr(addr) in str(info.value)
        assert discovery.query("ps") == {}

    def test_close_is_idempotent(self, discovery: ServiceDiscovery) -> None:
        discovery.register("ps", 0, "127.0.0.1:1000")

        discovery.close()
        discovery.close()

        with pytest.raises(DiscoveryError):
            discovery.query("ps")

    def test_context_manager_closes_on_exit(self, discovery: ServiceDiscovery) -> None:
        with discovery as entered:
            assert entered is discovery
            entered.register("ps", 0, "127.0.0.1:1000")

        with pytest.raises(DiscoveryError):
            discovery.register("ps", 1, "127.0.0.1:1001")

    def test_context_manager_closes_when_the_body_raises(
        self, discovery: ServiceDiscovery
    ) -> None:
        with pytest.raises(KeyError), discovery:
            raise KeyError("boom")

        with pytest.raises(DiscoveryError):
            discovery.query("ps")


class ReadOnlyDiscoveryContract:
    """Behaviour of adapters whose cluster is fixed by their environment.

    Attributes:
        known: ``{name: {index: addr}}`` the fixture's environment describes.
    """

    known: ClassVar[dict[str, dict[int, str]]] = {}

    @pytest.fixture
    def discovery(self) -> ServiceDiscovery:
        raise NotImplementedError("subclasses provide the discovery fixture")

    def test_query_lists_the_roles_of_the_environment(
        self, discovery: ServiceDiscovery
    ) -> None:
        for name, expected in self.known.items():
            assert discovery.query(name) == expected

    def test_query_returns_a_copy(self, discovery: ServiceDiscovery) -> None:
        name = next(iter(self.known))

        view = discovery.query(name)
        view.clear()

        assert discovery.query(name) == self.known[name]

    def test_registering_a_known_address_is_accepted(
        self, discovery: ServiceDiscovery
    ) -> None:
        name = next(iter(self.known))
        index, addr = next(iter(self.known[name].items()))

        discovery.register(name, index, addr)

        assert discovery.query(name) == self.known[name]

    def test_registering_a_foreign_address_is_refused(
        self, discovery: ServiceDiscovery
    ) -> None:
        name = next(iter(self.known))
        index = next(iter(self.known[name]))

        with pytest.raises(DiscoveryError):
            discovery.register(name, index, "203.0.113.9:1")

    def test_deregister_hides_and_register_shows_again(
        self, discovery: ServiceDiscovery
    ) -> None:
        name = next(iter(self.known))
        index, addr = next(iter(self.known[name].items()))

        discovery.deregister(name, index, addr)
        hidden = discovery.query(name)
        discovery.register(name, index, addr)

        assert index not in hidden
        assert discovery.query(name) == self.known[name]

    @pytest.mark.parametrize("addr", BAD_ADDRESSES, ids=repr)
    def test_a_bad_address_is_refused_with_an_error_naming_it(
        self, discovery: ServiceDiscovery, addr: str
    ) -> None:
        name = next(iter(self.known))

        with pytest.raises(DiscoveryError) as info:
            discovery.register(name, 0, addr)

        assert repr(addr) in str(info.value)

    def test_close_is_idempotent_and_ends_use(
        self, discovery: ServiceDiscovery
    ) -> None:
        discovery.close()
        discovery.close()

        with pytest.raises(DiscoveryError):
            discovery.query(next(iter(self.known)))

    def test_context_manager_closes_on_exit(self, discovery: ServiceDiscovery) -> None:
        with discovery as entered:
            assert entered is discovery

        with pytest.raises(DiscoveryError):
            discovery.query(next(iter(self.known)))
