"""For an identity provider that registers no clients, the gateway is the authorization server MCP
clients see: the SDK's OAuth client registers with the gateway, the user signs in at the provider
(npm's oidc-provider with registration off, the gateway its one configured client), and the
gateway issues its own token for its resource, naming the user and the groups the provider gave."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import OAuthClientMetadata

from tests.e2e.conftest import Gateway, StartGateway
from tests.e2e.oidc_provider import Browser, Provider, serve_provider
from tests.e2e.test_gateway_auth import PAYROLL, post_mcp
from tests.e2e.test_oauth_interop import REDIRECT, SERVICE_CLIENT, MemoryStorage, list_and_call
from tests.leaks import secret
from toolmesh.testing.cluster import free_port
from toolmesh.testing.redis import LocalRedis

pytestmark = [pytest.mark.e2e, pytest.mark.oidc]

GATEWAY_SECRET = "gateway-client-secret-0123456789abcdef"


@pytest.fixture
async def delegated(start_gateway: StartGateway) -> AsyncIterator[tuple[Provider, Gateway]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret(GATEWAY_SECRET, SERVICE_CLIENT["client_secret"])
    clients = [
        {
            "client_id": "toolmesh-gateway",
            "client_secret": GATEWAY_SECRET,
            "redirect_uris": [f"{base}/oauth/signed-in"],
        },
        {**SERVICE_CLIENT, "grant_types": ["client_credentials"], "redirect_uris": [], "response_types": []},
    ]
    async with serve_provider(
        resources=[f"{base}/mcp"], groups={"alice": ["finance"]}, clients=clients, registration=False
    ) as provider:
        gateway = await start_gateway(
            extra={"payroll.yaml": PAYROLL}, auth="jwt", auth_issuer=provider.issuer, public_url=base, port=port,
            auth_delegate_client_id="toolmesh-gateway", auth_delegate_client_secret=GATEWAY_SECRET,
            direct_tools_limit=100, lexical_only=True,
        )  # fmt: skip
        yield provider, gateway


async def test_the_sdk_client_registers_with_the_gateway_and_the_user_signs_in_at_the_provider(
    delegated: tuple[Provider, Gateway],
) -> None:
    provider, gateway = delegated
    base = gateway.mcp_url.removesuffix("/mcp")
    async with httpx2.AsyncClient() as http:
        assert (
            "registration_endpoint"
            not in (await http.get(f"{provider.issuer}/.well-known/openid-configuration")).json()
        )
    storage = MemoryStorage()
    browser = Browser(login="alice", redirect_uri=REDIRECT)
    oauth = OAuthClientProvider(
        server_url=gateway.mcp_url,
        client_metadata=OAuthClientMetadata(redirect_uris=[REDIRECT], client_name="toolmesh delegated test"),  # type: ignore[list-item]
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    names, failed = await list_and_call(gateway, oauth)
    assert "tasks__listProjects" in names
    assert "payroll__listProjects" in names  # the provider's groups claim, carried into the gateway's token
    assert not failed
    assert browser.visits[0].startswith(
        f"{base}/oauth/authorize?"
    )  # registered with, and sent to, the gateway
    assert storage.tokens is not None
    claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["sub"], claims["groups"]) == (
        base,
        gateway.mcp_url,
        "alice",
        ["finance"],
    )
    assert "scope" not in claims  # asked-for scopes are granted by no one: access.scopes keep their meaning

    header, _, signature = storage.tokens.access_token.split(".")
    body = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "mallory"}).encode()).decode().rstrip("=")
    status, _, payload = await post_mcp(gateway.mcp_url, f"{header}.{body}.{signature}")  # its claims altered
    assert (status, payload["error_description"]) == (401, "token signature does not verify")
    credentials = SERVICE_CLIENT["client_id"], SERVICE_CLIENT["client_secret"]
    providers_own = await provider.client_credentials_token(*credentials, gateway.mcp_url)
    secret(providers_own)
    status, _, payload = await post_mcp(
        gateway.mcp_url, providers_own
    )  # no passthrough of the provider's tokens
    assert (status, payload["error_description"]) == (
        401,
        "the token is signed with a key the issuer does not publish",
    )


async def test_a_code_is_good_once_for_its_client_and_verifier_and_strangers_are_not_redirected_or_flood(
    delegated: tuple[Provider, Gateway],
) -> None:
    _, gateway = delegated
    base = gateway.mcp_url.removesuffix("/mcp")
    async with httpx2.AsyncClient(timeout=10) as http:
        registered = (await http.post(f"{base}/oauth/register", json={"redirect_uris": [REDIRECT]})).json()
        refused = await http.post(
            f"{base}/oauth/register", json={"redirect_uris": ["http://attacker.example/cb"]}
        )
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_redirect_uri")
        stranger = await http.get(
            f"{base}/oauth/authorize",
            params={"client_id": registered["client_id"], "redirect_uri": "https://attacker.example/cb",
                    "response_type": "code", "code_challenge": "x" * 43, "code_challenge_method": "S256"},
        )  # fmt: skip
        assert stranger.status_code == 400  # an unregistered redirect URI gets a page, never a redirect
        assert "redirect_uri is not one the client registered" in stranger.text
        forged = await http.get(
            f"{base}/oauth/authorize", params={"client_id": "made-up", "redirect_uri": REDIRECT}
        )
        assert forged.status_code == 400
        no_pkce = await http.get(
            f"{base}/oauth/authorize",
            params={
                "client_id": registered["client_id"],
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "state": "s1",
            },
        )
        assert no_pkce.status_code == 302
        assert no_pkce.headers["location"].startswith(f"{REDIRECT}?error=invalid_request")
        assert "state=s1" in no_pkce.headers["location"]
        unknown = await http.post(
            f"{base}/oauth/token",
            data={"grant_type": "authorization_code", "code": "guessed", "client_id": registered["client_id"],
                  "redirect_uri": REDIRECT, "code_verifier": "v" * 43},
        )  # fmt: skip
        assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")
        for _ in range(30):  # sign-ins begun from one address are budgeted: 30 at once, then one per 2 s
            await http.get(f"{base}/oauth/authorize", params={"client_id": "made-up"})
        flooded = await http.get(f"{base}/oauth/authorize", params={"client_id": "made-up"})
        assert flooded.status_code == 429
        assert 1 <= int(flooded.headers["Retry-After"]) <= 3


@pytest.mark.redis
async def test_a_sign_in_begun_on_one_replica_is_finished_on_another(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    """Two replicas behind one public URL, sharing Redis and the signing key: the provider sends the
    browser back to the other replica, the client fetches its token from the first, and either
    replica accepts it."""
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    first, second = free_port(), free_port()
    base = f"http://127.0.0.1:{first}"
    secret(GATEWAY_SECRET)
    client = {
        "client_id": "toolmesh-gateway",
        "client_secret": GATEWAY_SECRET,
        "redirect_uris": [f"{base}/oauth/signed-in"],
    }
    with LocalRedis() as redis_server:
        async with serve_provider(resources=[], clients=[client], registration=False) as provider:
            replicas = [
                await start_gateway(
                    auth="jwt",
                    auth_issuer=provider.issuer,
                    public_url=base,
                    port=port,
                    lexical_only=True,
                    auth_delegate_client_id="toolmesh-gateway",
                    auth_delegate_client_secret=GATEWAY_SECRET,
                    auth_signing_key=key_file,
                    redis_url=redis_server.url,
                )
                for port in (first, second)
            ]
            back, rerouted = f"{base}/oauth/signed-in", []

            def to_second(url: str) -> str:  # the load balancer sends the provider's redirect elsewhere
                if not url.startswith(back):
                    return url
                rerouted.append(url)
                return url.replace(base, f"http://127.0.0.1:{second}", 1)

            browser = Browser(login="carol", redirect_uri=REDIRECT, route=to_second)
            storage = MemoryStorage()
            oauth = OAuthClientProvider(
                server_url=replicas[0].mcp_url,
                client_metadata=OAuthClientMetadata(redirect_uris=[REDIRECT]),  # type: ignore[list-item]
                storage=storage,
                redirect_handler=browser.open,
                callback_handler=browser.callback,
            )
            names, failed = await list_and_call(replicas[0], oauth)
            assert "tasks__listProjects" in names
            assert not failed
            assert len(rerouted) == 1  # the second replica finished what the first began
            assert storage.tokens is not None
            for replica in replicas:
                assert (await post_mcp(replica.mcp_url, storage.tokens.access_token))[0] == 200
