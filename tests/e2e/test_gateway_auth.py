"""The gateway as an OAuth 2.1 resource server, against a test issuer that signs real JWTs with
rotating RSA keys and publishes them as a JWKS; and API keys. Refusals are 401s with a Bearer
challenge that points at the protected resource metadata."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import aiohttp
import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.conftest import StartGateway
from tests.e2e.issuer import AUDIENCE, Issuer

pytestmark = pytest.mark.e2e


async def post_mcp(url: str, token: str | None) -> tuple[int, dict[str, str], dict[str, Any]]:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as response:
        payload = await response.json(content_type=None) if response.status == 401 else {}
        return response.status, dict(response.headers), payload


async def list_tools(url: str, token: str) -> list[str]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return [t.name for t in (await client.list_tools()).tools]


async def test_a_valid_token_is_served_and_every_bad_one_refused_with_a_challenge(
    start_gateway: StartGateway, issuer: Issuer
) -> None:
    gateway = await start_gateway(auth="jwt", auth_issuer=issuer.url, auth_jwks_url=f"{issuer.url}/jwks",
                                  auth_audience=AUDIENCE, public_url="https://gateway.example.test")  # fmt: skip
    assert "tasks__listProjects" in await list_tools(gateway.mcp_url, issuer.token())

    status, headers, _ = await post_mcp(gateway.mcp_url, None)
    assert status == 401
    assert (
        headers["WWW-Authenticate"]
        == 'Bearer resource_metadata="https://gateway.example.test/.well-known/oauth-protected-resource"'
    )

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "token expired": issuer.token(exp=int(time.time()) - 3600),
        "token is not for this resource (aud)": issuer.token(aud="https://elsewhere.test/mcp"),
        "token is from another issuer (iss)": issuer.token(iss="https://evil.test"),
        "token signature does not verify": issuer.token(key=other_key),
        "token algorithm 'none' is not accepted": jwt.encode(
            {"sub": "alice", "aud": AUDIENCE, "iss": issuer.url}, None, algorithm="none"
        ),
        "malformed token": "not-a-jwt",
        "token algorithm 'HS256' is not accepted": jwt.encode(
            {"sub": "alice", "aud": AUDIENCE, "iss": issuer.url, "exp": int(time.time()) + 60},
            "a-shared-secret-32-bytes-long!!!",
            algorithm="HS256",
        ),
    }
    for reason, token in cases.items():
        status, headers, payload = await post_mcp(gateway.mcp_url, token)
        assert (status, payload.get("error_description")) == (401, reason), reason
        assert 'error="invalid_token"' in headers["WWW-Authenticate"]
        assert token not in str(headers) + str(payload)  # a refusal never echoes the credential


async def test_rotated_keys_are_fetched_when_a_token_names_one_and_metadata_names_the_issuer(
    start_gateway: StartGateway, issuer: Issuer
) -> None:
    gateway = await start_gateway(
        auth="jwt", auth_issuer=issuer.url, auth_jwks_url=f"{issuer.url}/jwks", auth_audience=AUDIENCE
    )
    await list_tools(gateway.mcp_url, issuer.token())
    issuer.rotate()
    await asyncio.sleep(
        1.1
    )  # the refetch floor (auth.REFETCH_FLOOR): made-up key ids cannot flood the issuer
    assert await list_tools(gateway.mcp_url, issuer.token())  # signed with the new key: refetched
    assert issuer.fetches == 2
    base = gateway.mcp_url.removesuffix("/mcp")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/.well-known/oauth-protected-resource") as response,
    ):
        document = await response.json()
    assert document["authorization_servers"] == [issuer.url]
    assert document["resource"].endswith("/mcp")


async def test_the_keys_are_found_from_the_issuers_metadata_when_it_names_itself(
    start_gateway: StartGateway, issuer: Issuer
) -> None:
    gateway = await start_gateway(auth="jwt", auth_issuer=issuer.url, auth_audience=AUDIENCE)  # no JWKS URL
    assert "tasks__listProjects" in await list_tools(gateway.mcp_url, issuer.token())
    assert issuer.fetches == 1

    issuer.named_issuer = "https://evil.test"  # a metadata document for another issuer is not trusted
    misled = await start_gateway(auth="jwt", auth_issuer=issuer.url, auth_audience=AUDIENCE)
    status, _, payload = await post_mcp(misled.mcp_url, issuer.token())
    assert (status, payload["error_description"]) == (401, "the issuer's keys cannot be fetched right now")
    assert issuer.fetches == 1


async def test_api_keys_are_checked_by_digest(start_gateway: StartGateway) -> None:
    key = "tm_live_correct-horse-battery-staple"
    gateway = await start_gateway(auth="api-key", auth_api_keys=[hashlib.sha256(key.encode()).hexdigest()])
    assert "tasks__listProjects" in await list_tools(gateway.mcp_url, key)
    status, _, payload = await post_mcp(gateway.mcp_url, "tm_live_wrong")
    assert (status, payload["error_description"]) == (401, "unknown API key")


async def test_wrong_keys_are_throttled_per_client_and_missing_ones_are_not_counted(
    start_gateway: StartGateway,
) -> None:
    key = "tm_live_correct-horse-battery-staple"
    gateway = await start_gateway(
        auth="api-key", auth_api_keys=[hashlib.sha256(key.encode()).hexdigest()], auth_failures_per_minute=3
    )
    for _ in range(5):
        assert (await post_mcp(gateway.mcp_url, None))[0] == 401  # discovery: no credentials, not counted
    for attempt in range(3):
        assert (await post_mcp(gateway.mcp_url, f"guess-{attempt}"))[0] == 401
    status, headers, _ = await post_mcp(gateway.mcp_url, "guess-3")
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 20
    assert (await post_mcp(gateway.mcp_url, key))[0] == 429, "not even checked while throttled"


def test_the_default_is_secure_and_names_what_to_set() -> None:
    from toolmesh.gateway.app import make_authenticator
    from toolmesh.gateway.settings import GatewaySettings

    with pytest.raises(ValueError, match="TOOLMESH_AUTH_ISSUER is required"):
        make_authenticator(GatewaySettings())


PAYROLL = """
    apiVersion: toolmesh.dev/v1alpha1
    kind: MCPIntegration
    metadata: {name: payroll}
    spec:
      category: pm
      toolPrefix: payroll
      openapi:
        spec: {configMapKeyRef: {name: tasks-openapi, key: tasks.openapi.yaml}}
        baseUrl: http://127.0.0.1:9/v1
      access: {groups: [finance]}
"""


async def call_as(url: str, token: str, name: str, arguments: dict[str, Any]) -> Any:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await client.call_tool(name, arguments)


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "meta-tools"])
async def test_a_caller_never_sees_or_calls_a_tool_it_may_not_use(
    start_gateway: StartGateway, issuer: Issuer, direct: bool
) -> None:
    gateway = await start_gateway(
        extra={"payroll.yaml": PAYROLL}, auth="jwt", auth_issuer=issuer.url, auth_jwks_url=f"{issuer.url}/jwks",
        auth_audience=AUDIENCE, direct_tools_limit=100 if direct else 0,
    )  # fmt: skip
    alice = issuer.token(sub="alice", groups=["finance"])
    bob = issuer.token(sub="bob", groups=["engineering"])
    if direct:
        assert "payroll__listProjects" in await list_tools(gateway.mcp_url, alice)
        seen_by_bob = await list_tools(gateway.mcp_url, bob)
        assert "tasks__listProjects" in seen_by_bob
        assert not [t for t in seen_by_bob if t.startswith("payroll__")]
        refused = await call_as(gateway.mcp_url, bob, "payroll__listProjects", {})
    else:
        found = await call_as(gateway.mcp_url, alice, "search_tools", {"query": "list projects", "limit": 20})
        assert "payroll__listProjects" in found.content[0].text
        found = await call_as(gateway.mcp_url, bob, "search_tools", {"query": "list projects", "limit": 20})
        assert "tasks__listProjects" in found.content[0].text
        assert "payroll__" not in found.content[0].text
        described = await call_as(
            gateway.mcp_url, bob, "describe_tools", {"names": ["payroll__listProjects"]}
        )
        assert described.is_error
        assert "unknown tools: payroll__listProjects" in described.content[0].text
        refused = await call_as(
            gateway.mcp_url, bob, "call_tool", {"name": "payroll__listProjects", "arguments": {}}
        )
    assert refused.is_error
    assert "unknown tool 'payroll__listProjects'" in refused.content[0].text  # not told apart from absent
