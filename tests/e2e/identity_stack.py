"""The stack the gateway's upstream-identity tests run on (test_gateway_identity*.py; its gateway
helpers also serve test_federated_credentials.py): SDK client → gateway → category server → stub
upstream, with OpenBao, a test issuer and a stub OAuth server."""

from __future__ import annotations

import re
import textwrap
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import pytest
from aiohttp import web
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import DEMO_SPEC, StartCategory
from tests.e2e.issuer import AUDIENCE, Issuer
from tests.e2e.stub_oauth import StubAuthorizationServer
from tests.e2e.stub_upstream import Reply, Seen, StubUpstream
from toolmesh.gateway.app import create_app
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.testing.cluster import free_port
from toolmesh.testing.vault import DevVault


def integration(name: str, base_url: str, auth: str) -> str:
    auth_block = textwrap.indent(textwrap.dedent(auth).strip(), " " * 6)
    return f"""
    apiVersion: toolmesh.dev/v1alpha1
    kind: MCPIntegration
    metadata: {{name: {name}}}
    spec:
      category: pm
      openapi:
        spec: {{configMapKeyRef: {{name: tasks-openapi, key: tasks.openapi.yaml}}}}
        baseUrl: {base_url}/v1
        include: {{operations: [whoAmI, getTask]}}
{auth_block}
    ---
    """


@dataclass
class Stack:
    gateway_url: str
    vault: DevVault
    user_prefix: str
    oauth: StubAuthorizationServer
    upstream: StubUpstream
    issuer: Issuer
    results: list[str] = field(default_factory=list)

    @property
    def mcp_url(self) -> str:
        return f"{self.gateway_url}/mcp"

    def token(self, user: str) -> str:
        return self.issuer.token(sub=user, aud=AUDIENCE)

    async def call(self, user: str, tool: str, arguments: dict[str, Any] | None = None) -> tuple[bool, str]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {self.token(user)}"}) as http,
            Client(streamable_http_client(self.mcp_url, http_client=http)) as client,
        ):
            result = await client.call_tool(tool, arguments or {})
        text = "".join(c.text for c in result.content)  # type: ignore[union-attr]
        self.results.append(text)
        return result.is_error, text

    async def sign_in(self, link: str, user: str) -> tuple[int, str]:
        """Play the user's browser: the connect link, the upstream's consent, back to the gateway."""
        self.oauth.login_as = user
        async with aiohttp.ClientSession() as browser:
            url = link
            for _ in range(4):
                async with browser.get(url, allow_redirects=False) as response:
                    if response.status != 302:
                        return response.status, await response.text()
                    url = response.headers["Location"]
        raise AssertionError("too many redirects")

    def stored(self, user: str, name: str) -> dict[str, str] | None:
        try:
            read = self.vault.admin().secrets.kv.v2.read_secret_version(
                path=f"{self.user_prefix}/{user}/{name}", raise_on_deleted_version=False
            )
        except Exception:  # hvac's InvalidPath: nothing stored
            return None
        return dict(read["data"]["data"])


def gateway_approle(dev_vault: DevVault, prefix: str, client_path: str) -> dict[str, str]:
    """The least a gateway needs: read its OAuth clients, manage the users' paths; nothing else."""
    admin = dev_vault.admin()
    if "approle/" not in admin.sys.list_auth_methods():
        admin.sys.enable_auth_method("approle")
    policy = f"""
    path "secret/data/{client_path}" {{ capabilities = ["read"] }}
    path "secret/data/{prefix}/*" {{ capabilities = ["create", "read", "update"] }}
    path "secret/metadata/{prefix}/*" {{ capabilities = ["delete"] }}
    """
    admin.sys.create_or_update_policy(f"gw-{prefix.split('/')[0]}", policy)
    role = f"gw-{prefix.split('/')[0]}"
    admin.auth.approle.create_or_update_approle(role, token_policies=[role])
    return {
        "ADDR": dev_vault.addr,
        "AUTH_METHOD": "approle",
        "ROLE_ID": admin.auth.approle.read_role_id(role)["data"]["role_id"],
        "SECRET_ID": admin.auth.approle.generate_secret_id(role)["data"]["secret_id"],
        "USER_PREFIX": prefix,
    }


async def serve_gateway(folder: Path, issuer: Issuer, category_url: str) -> tuple[web.AppRunner, str]:
    """The gateway over a folder catalog, callers' JWTs from ``issuer``, its pm category at ``category_url``."""
    port = free_port()
    app = create_app(GatewaySettings(
        catalog=folder, port=port, auth="jwt", auth_issuer=issuer.url, auth_jwks_url=f"{issuer.url}/jwks",
        auth_audience=AUDIENCE, category_endpoints={"pm": category_url}, lexical_only=True,
    ))  # fmt: skip
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@asynccontextmanager
async def open_stack(
    dev_vault: DevVault, issuer: Issuer, upstream: StubUpstream, start_category: StartCategory,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Stack]:  # fmt: skip
    """The gateway over the demo Tasks API twice (``tasks``: brokered OAuth; ``keyed``: per-user API
    keys), its category server, a stub authorization server, its OAuth client in OpenBao, and the
    gateway's own AppRole there (conftest's ``stack`` fixture)."""
    uid = uuid.uuid4().hex[:8]
    oauth = StubAuthorizationServer()
    await oauth.start()
    client_path = f"t{uid}/oauth/tasks-app"
    dev_vault.admin().secrets.kv.v2.create_or_update_secret(
        path=client_path, secret={"clientId": oauth.client_id, "clientSecret": oauth.client_secret}
    )
    files = {
        "integrations.yaml": integration(
            "tasks",
            upstream.url,
            f"""
            auth:
              type: oauth2AuthorizationCode
              vaultPath: {client_path}
              oauth2:
                authorizationUrl: {oauth.url}/authorize
                tokenUrl: {oauth.url}/token
                revocationUrl: {oauth.url}/revoke
                scopes: [tasks.read]
            """,
        )
        + integration(
            "keyed",
            upstream.url,
            """
            auth:
              type: apiKey
              apiKey: {in: header, name: X-API-Key}
              perUser: true
            """,
        ),
        "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
    }
    category = await start_category(files)
    folder = tmp_path / "gateway-catalog"
    for name, text in {**files, "categories.yaml": """
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPCategory
        metadata: {name: pm}
        spec: {description: Projects and tasks}
    """}.items():  # fmt: skip
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))
    vault_env = gateway_approle(dev_vault, f"t{uid}/users", client_path)
    for key, value in vault_env.items():  # the default caches on: what is forgotten must be forgotten
        monkeypatch.setenv(f"TOOLMESH_VAULT_{key}", value)
    runner, url = await serve_gateway(folder, issuer, category.mcp_url)
    try:
        yield Stack(url, dev_vault, f"t{uid}/users", oauth, upstream, issuer)
    finally:
        await runner.cleanup()
        await oauth.close()


def echo_authorization(upstream: StubUpstream) -> None:
    def reply(seen: Seen) -> Reply:
        return Reply(body={"path": seen.path, "authorization": seen.headers.get("Authorization", "")})

    upstream.on("GET", "/v1/me", reply)


def link_in(text: str) -> str:
    found = re.search(r"(http://\S+/oauth/connect\?state=[A-Za-z0-9_\-]+)", text)
    assert found, text
    return found.group(1)
