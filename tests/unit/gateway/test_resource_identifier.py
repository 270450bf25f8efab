"""The gateway names its resource as MCP clients will ask for it, and finds its issuer's metadata
where MCP clients look for it."""

from __future__ import annotations

import pytest

from toolmesh.gateway import authserver
from toolmesh.gateway.app import make_authenticator
from toolmesh.gateway.resource_metadata import resource
from toolmesh.gateway.settings import GatewaySettings


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://mcp.example.com", "https://mcp.example.com/mcp"),
        ("https://MCP.Example.com:443/", "https://mcp.example.com/mcp"),
        ("HTTP://127.0.0.1:8080", "http://127.0.0.1:8080/mcp"),
        ("http://[::1]:80", "http://[::1]/mcp"),
        ("https://example.com/toolmesh/", "https://example.com/toolmesh/mcp"),
    ],
)
def test_the_resource_is_the_mcp_url_in_the_form_clients_send_it(base: str, expected: str) -> None:
    assert resource(base) == expected


def test_the_audience_defaults_to_the_resource_of_the_public_url() -> None:
    settings = GatewaySettings(auth_issuer="https://login.example.com", public_url="https://MCP.example.com/")
    assert make_authenticator(settings).audience == "https://mcp.example.com/mcp"


def test_jwt_on_every_address_without_a_public_url_is_refused_naming_it() -> None:
    with pytest.raises(
        ValueError,
        match=r"TOOLMESH_PUBLIC_URL is required with TOOLMESH_AUTH=jwt when listening on 0\.0\.0\.0",
    ):
        make_authenticator(GatewaySettings(auth_issuer="https://login.example.com", host="0.0.0.0"))


@pytest.mark.parametrize("field", ["public_url", "auth_issuer", "auth_jwks_url"])
@pytest.mark.parametrize(
    "value", ["login.example.com", "ftp://login.example.com", "https://x.test/?a=1", "https://x.test/#f"]
)
def test_urls_that_cannot_be_identifiers_are_refused_naming_the_setting(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        GatewaySettings(**{field: value})  # type: ignore[arg-type]


def test_metadata_is_looked_up_where_rfc_8414_and_openid_discovery_put_it() -> None:
    assert authserver.metadata_urls("https://login.example.com") == [
        "https://login.example.com/.well-known/oauth-authorization-server",
        "https://login.example.com/.well-known/openid-configuration",
    ]
    assert authserver.metadata_urls("https://id.example.com/realms/mcp/") == [
        "https://id.example.com/.well-known/oauth-authorization-server/realms/mcp",
        "https://id.example.com/.well-known/openid-configuration/realms/mcp",
        "https://id.example.com/realms/mcp/.well-known/openid-configuration",
    ]


def test_issuers_compare_as_strings_but_a_bare_origin_may_end_with_a_slash() -> None:
    assert authserver.same_issuer("https://login.example.com/", "https://login.example.com")
    assert not authserver.same_issuer(
        "https://id.example.com/realms/mcp/", "https://id.example.com/realms/mcp"
    )
    assert not authserver.same_issuer("https://evil.test", "https://login.example.com")
