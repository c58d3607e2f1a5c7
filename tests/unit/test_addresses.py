"""host:port parsing and role names for discovery."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monolith.domain.addresses import (
    Address,
    node_name,
    parse_address,
    parse_node_name,
    validate_role,
)
from monolith.domain.errors import DiscoveryError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:2222", Address("127.0.0.1", 2222)),
        ("ps-0.svc.cluster.local:80", Address("ps-0.svc.cluster.local", 80)),
        ("localhost:0", Address("localhost", 0)),
        ("[::1]:2222", Address("::1", 2222)),
        ("[fe80::1:2]:65535", Address("fe80::1:2", 65535)),
    ],
    ids=["ipv4", "dns", "port-zero", "ipv6-loopback", "ipv6-max-port"],
)
def test_valid_addresses_parse_and_print_back(text: str, expected: Address) -> None:
    parsed = parse_address(text)

    assert parsed == expected
    assert str(parsed) == text


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "expected host:port"),
        ("host", "expected host:port"),
        ("host:", "not a number"),
        ("host:-1", "not a number"),
        ("host:65536", "out of range"),
        ("::1:2222", "must be in brackets"),
        ("[::1]", "']:'"),
        ("[zz::1]:1", "not an IPv6 address"),
        ("a b:1", "not a host name"),
    ],
    ids=repr,
)
def test_malformed_addresses_raise_an_error_naming_the_address(
    text: str, hint: str
) -> None:
    with pytest.raises(DiscoveryError) as info:
        parse_address(text)

    assert repr(text) in str(info.value)
    assert hint in str(info.value)


@settings(max_examples=100, deadline=None)
@given(st.ip_addresses(v=6), st.integers(0, 65535))
def test_every_bracketed_ipv6_address_round_trips(
    ip: ipaddress.IPv6Address, port: int
) -> None:
    text = f"[{ip}]:{port}"

    assert str(parse_address(text)) == text


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcXYZ09_-", min_size=1, max_size=20), st.integers(0, 10**6))
def test_node_names_round_trip(name: str, index: int) -> None:
    assert parse_node_name(node_name(name, index)) == (name, index)


@pytest.mark.parametrize(
    ("name", "index"),
    [("", 0), ("ps.0", 0), ("ps", -1), ("ps", True), ("p s", 1)],
    ids=repr,
)
def test_bad_role_names_and_indexes_are_refused(name: str, index: int) -> None:
    with pytest.raises(DiscoveryError):
        validate_role(name, index)


def test_keys_that_are_not_node_names_parse_as_none() -> None:
    assert parse_node_name("ps") is None
    assert parse_node_name("ps.x") is None
    assert parse_node_name(".tmp-abc") is None
