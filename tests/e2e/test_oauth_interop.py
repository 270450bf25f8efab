"""The MCP SDK's own OAuth client connects to the gateway with no client registered beforehand,
against a real authorization server with open registration (npm's oidc-provider): it reads the
gateway's protected resource metadata, discovers the provider, registers itself (RFC 7591), does
authorization code + PKCE for the gateway's resource (RFC 8707), and calls tools with the JWT it
gets. Only the user's sign-in at the provider's pages is played by the test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.e2e.conftest import Gateway, StartGateway
from tests.e2e.oidc_provider import Browser, Provider, serve_client_document, serve_provider
from tests.e2e.test_gateway_auth import PAYROLL, post_mcp
from tests.leaks import secret
from toolmesh.testing.cluster import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.oidc]

OTHER_RESOURCE = "https://reports.example.test/mcp"  # another resource server of the same provider
SERVICE_CLIENT = {"client_id": "reporting", "client_secret": "reporting-secret-0123456789abcdef"}
REDIRECT = (
    "http://127.0.0.1:33418/callback"  # the client's loopback redirect (nothing listens: the test reads it)
)


class MemoryStorage:
    """The SDK's TokenStorage, in memory: what the client registered and the tokens it got."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        secret(tokens.access_token, tokens.refresh_token or "")
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        secret(client_info.client_secret or "")
        self.client = client_info


@contextlib.asynccontextmanager
async def provider_and_gateway(
    start_gateway: StartGateway, trust: Path | None = None, **provider: Any
) -> AsyncIterator[tuple[Provider, Gateway]]:
    """oidc-provider issuing tokens for the gateway's resource and another; the gateway trusting it
    with nothing configured but the issuer and its own public URL (keys found from the metadata)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret(SERVICE_CLIENT["client_secret"])
    client = {
        **SERVICE_CLIENT,
        "grant_types": ["client_credentials"],
        "redirect_uris": [],
        "response_types": [],
    }
    async with serve_provider(
        trust,
        resources=[f"{base}/mcp", OTHER_RESOURCE],
        groups={"alice": ["finance"]},
        clients=[client],
        **provider,
    ) as running:
        gateway = await start_gateway(
            extra={"payroll.yaml": PAYROLL}, auth="jwt", auth_issuer=running.issuer, public_url=base,
            port=port, direct_tools_limit=100, lexical_only=True,
        )  # fmt: skip
        yield running, gateway


@pytest.fixture
async def stack(start_gateway: StartGateway) -> AsyncIterator[tuple[Provider, Gateway]]:
    async with provider_and_gateway(start_gateway) as both:
        yield both


async def list_and_call(gateway: Gateway, oauth: OAuthClientProvider) -> tuple[list[str], bool]:
    """The tools the SDK client sees through ``oauth``, and whether calling one failed."""
    async with (
        httpx2.AsyncClient(auth=oauth, timeout=30) as http,
        Client(streamable_http_client(gateway.mcp_url, http_client=http)) as client,
    ):
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("tasks__listProjects", {})
    return names, bool(result.is_error)


async def test_the_sdk_client_registers_signs_in_and_calls_tools_with_no_preshared_client(
    stack: tuple[Provider, Gateway],
) -> None:
    provider, gateway = stack
    storage = MemoryStorage()
    browser = Browser(login="alice", redirect_uri=REDIRECT)
    oauth = OAuthClientProvider(
        server_url=gateway.mcp_url,
        client_metadata=OAuthClientMetadata(redirect_uris=[REDIRECT], client_name="toolmesh oidc test"),  # type: ignore[list-item]
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    names, failed = await list_and_call(gateway, oauth)
    assert "tasks__listProjects" in names
    assert "payroll__listProjects" in names  # alice's groups claim from the provider: finance
    assert not failed

    assert storage.client is not None
    assert storage.client.client_id
    assert len(browser.visits) == 1  # one sign-in, one authorization request
    request = browser.visits[0]
    assert request.startswith(f"{provider.issuer}/auth?")
    assert "code_challenge_method=S256" in request
    assert storage.tokens is not None
    claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert claims["aud"] == gateway.mcp_url  # RFC 8707: the resource the client resolved from the URL
    assert (claims["iss"], claims["sub"], claims["groups"]) == (provider.issuer, "alice", ["finance"])


async def test_a_token_of_the_same_provider_for_another_resource_is_refused(
    stack: tuple[Provider, Gateway],
) -> None:
    provider, gateway = stack
    status, headers, _ = await post_mcp(gateway.mcp_url, None)
    base = gateway.mcp_url.removesuffix("/mcp")
    assert status == 401
    assert (
        headers["WWW-Authenticate"]
        == f'Bearer resource_metadata="{base}/.well-known/oauth-protected-resource"'
    )
    async with httpx2.AsyncClient() as http:
        document = (await http.get(f"{base}/.well-known/oauth-protected-resource/mcp")).json()
    assert document["resource"] == gateway.mcp_url
    assert document["authorization_servers"] == [provider.issuer]

    credentials = SERVICE_CLIENT["client_id"], SERVICE_CLIENT["client_secret"]
    elsewhere = await provider.client_credentials_token(*credentials, OTHER_RESOURCE)
    here = await provider.client_credentials_token(*credentials, gateway.mcp_url)
    secret(elsewhere, here)
    status, headers, payload = await post_mcp(gateway.mcp_url, elsewhere)
    assert (status, payload["error_description"]) == (401, "token is not for this resource (aud)")
    assert 'resource_metadata="' in headers["WWW-Authenticate"]
    assert (await post_mcp(gateway.mcp_url, here))[
        0
    ] == 200  # the same issuer, key and client: only aud differs


async def test_a_client_identified_by_its_metadata_document_url_connects_without_registering(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    """Client ID Metadata Documents: the client's id is an HTTPS URL the provider fetches, so
    nothing is registered; the gateway's side is the same."""
    async with (
        serve_client_document(tmp_path, REDIRECT) as (client_id, certificate),
        provider_and_gateway(start_gateway, certificate, clientIdMetadataDocuments=True) as (
            provider,
            gateway,
        ),
    ):
        storage = MemoryStorage()
        browser = Browser(login="bob", redirect_uri=REDIRECT)
        oauth = OAuthClientProvider(
            server_url=gateway.mcp_url,
            client_metadata=OAuthClientMetadata(redirect_uris=[REDIRECT]),  # type: ignore[list-item]
            storage=storage,
            redirect_handler=browser.open,
            callback_handler=browser.callback,
            client_metadata_url=client_id,
        )
        names, failed = await list_and_call(gateway, oauth)
    assert "tasks__listProjects" in names
    assert not [n for n in names if n.startswith("payroll__")]  # bob is in no group
    assert not failed
    assert storage.client is not None
    assert storage.client.client_id == client_id
    assert storage.tokens is not None
    claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert (claims["iss"], claims["client_id"], claims["aud"], claims["sub"]) == (
        provider.issuer,
        client_id,
        gateway.mcp_url,
        "bob",
    )
