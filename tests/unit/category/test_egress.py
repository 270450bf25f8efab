"""Where a category server may send upstream requests: everywhere by default, only to public
addresses with egress=public (checked on the resolved address), plus the networks allowed."""

from __future__ import annotations

import errno

import pytest

from toolmesh.category.egress import EgressPolicy, GuardedResolver, connector_options


def test_the_default_policy_permits_every_address() -> None:
    policy = EgressPolicy.from_settings("any", [])
    assert all(policy.permits(a) for a in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "::1"))
    assert connector_options(policy) == {}


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.4", "169.254.169.254", "100.64.0.1", "::1",
     "[fe80::1%eth0]", "::ffff:10.0.0.1", "0.0.0.0"],
)  # fmt: skip
def test_public_egress_refuses_internal_addresses(address: str) -> None:
    assert EgressPolicy.from_settings("public", []).permits(address) is False


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:4700::1111", "[2606:4700::1111]", "::ffff:1.1.1.1"]
)
def test_public_egress_permits_global_addresses(address: str) -> None:
    assert EgressPolicy.from_settings("public", []).permits(address) is True


def test_an_allowed_network_is_reached_all_the_same() -> None:
    policy = EgressPolicy.from_settings("public", ["10.0.0.0/8", "fd00::1/8"])
    assert policy.permits("10.20.30.40") is True
    assert policy.permits("fd12::5") is True
    assert policy.permits("192.168.1.1") is False


async def test_a_name_is_left_for_the_resolver_to_check() -> None:
    policy = EgressPolicy.from_settings("public", [])
    assert policy.permits("api.example.com") is True
    resolver = connector_options(policy)["resolver"]
    assert isinstance(resolver, GuardedResolver)
    await resolver.close()


def test_the_refusal_names_the_settings_that_change_it() -> None:
    assert EgressPolicy.refusal("10.0.0.1") == (
        "10.0.0.1 is not a public address; this category server sends only to public addresses "
        "(TOOLMESH_CATEGORY_EGRESS=public; allow a network with TOOLMESH_CATEGORY_EGRESS_ALLOW)"
    )


async def test_the_guarded_resolver_refuses_a_name_that_resolves_to_loopback() -> None:
    resolver = GuardedResolver(EgressPolicy.from_settings("public", []))
    try:
        with pytest.raises(OSError, match=r"^\[Errno 13\] localhost resolves to ") as caught:
            await resolver.resolve("localhost", 80)
        assert caught.value.errno == errno.EACCES
    finally:
        await resolver.close()


async def test_the_guarded_resolver_keeps_addresses_of_an_allowed_network() -> None:
    resolver = GuardedResolver(EgressPolicy.from_settings("public", ["127.0.0.0/8"]))
    try:
        found = await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()
    assert found
    assert {r["host"] for r in found} <= {"127.0.0.1"}
