"""Upstream identity through the gateway, on real parts: OpenBao for the tokens, a test issuer for
the callers' JWTs, a stub OAuth authorization server and a stub upstream API; SDK client → gateway
→ category server → upstream.

The brokered authorization-code flow with PKCE from the connect link to the upstream call; refresh;
disconnect with revocation; per-user credentials kept in Vault; two users' concurrent calls never
crossing; Vault down; and no secret value in any log line, metric or tool result."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests import leaks
from tests.conftest import DEMO_SPEC, StartCategory
from tests.e2e.issuer import AUDIENCE, Issuer
from tests.e2e.stub_oauth import StubAuthorizationServer
from tests.e2e.stub_upstream import Reply, Seen, StubUpstream
from toolmesh.common.logging import quiet_libraries
from toolmesh.gateway.app import create_app
from toolmesh.gateway.identity.oauth import CALLBACK_PATH, CONNECT_PATH, DISCONNECT_PATH
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.testing.cluster import free_port
from toolmesh.testing.redis import LocalRedis
from toolmesh.testing.vault import DevVault

pytestmark = [pytest.mark.e2e, pytest.mark.vault]
leaks.secret("bob-own-key-77", "carol-key-5", "alice-own-key-31")


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


@pytest.fixture
async def stack(
    dev_vault: DevVault, issuer: Issuer, upstream: StubUpstream, start_category: StartCategory,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Stack]:  # fmt: skip
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
    yield Stack(url, dev_vault, f"t{uid}/users", oauth, upstream, issuer)
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


async def test_the_brokered_flow_connects_refreshes_and_disconnects(stack: Stack) -> None:
    echo_authorization(stack.upstream)
    stack.oauth.first_lifetime = 30  # inside the refresh margin: the next call refreshes it

    is_error, text = await stack.call("alice", "tasks__whoAmI")
    assert is_error is True
    assert "connect their account" in text
    assert stack.upstream.seen == []  # nothing went upstream without a token
    link = link_in(text)

    status, page = await stack.sign_in(link, "alice")
    assert (status, page.strip()) == (
        200,
        "Connected tasks. You can close this page and return to your agent.",
    )
    assert stack.oauth.grants == ["authorization_code"]  # the code was exchanged with the PKCE verifier
    stored = stack.stored("alice", "tasks")
    assert stored is not None
    assert stored["accessToken"] == "alice-access-1-x7q"
    assert stored["refreshToken"] == "alice-refresh-1-k2w"

    status, page = await stack.sign_in(link, "alice")  # the link and its state are single use
    assert status == 400
    assert "expired or was already used" in page

    is_error, _ = await stack.call("alice", "tasks__whoAmI")
    assert is_error is False
    assert stack.oauth.grants == ["authorization_code", "refresh_token"]  # about to expire: refreshed first
    assert stack.upstream.last().headers["Authorization"] == "Bearer alice-access-2-x7q"
    assert stack.stored("alice", "tasks")["accessToken"] == "alice-access-2-x7q"  # type: ignore[index]

    is_error, _ = await stack.call("alice", "tasks__whoAmI")
    assert is_error is False
    assert stack.oauth.grants == ["authorization_code", "refresh_token"]  # fresh: no second refresh

    headers = {"Authorization": f"Bearer {stack.token('alice')}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{stack.gateway_url}/oauth/disconnect", json={"integration": "tasks"}
        ) as anonymous:
            assert anonymous.status == 401  # only the caller themself disconnects
        async with http.post(
            f"{stack.gateway_url}/oauth/disconnect", json={"integration": "tasks"}, headers=headers
        ) as r:
            assert (r.status, await r.json()) == (200, {"integration": "tasks", "disconnected": True})
    assert ("alice-refresh-2-k2w", "refresh_token") in stack.oauth.revoked
    assert stack.stored("alice", "tasks") is None
    is_error, text = await stack.call("alice", "tasks__whoAmI")
    assert is_error is True
    assert "connect their account" in text


async def test_concurrent_calls_at_expiry_share_one_refresh(stack: Stack) -> None:
    echo_authorization(stack.upstream)
    stack.oauth.first_lifetime = 30  # every call now finds the token about to expire
    _, text = await stack.call("dave", "tasks__whoAmI")
    assert (await stack.sign_in(link_in(text), "dave"))[0] == 200
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {stack.token('dave')}"}) as http,
        Client(streamable_http_client(stack.mcp_url, http_client=http)) as client,
    ):
        results = await asyncio.gather(*(client.call_tool("tasks__whoAmI", {}) for _ in range(20)))
    assert [r.is_error for r in results] == [
        False
    ] * 20  # the refresh token is used once: nobody is logged out
    assert stack.oauth.grants == ["authorization_code", "refresh_token"]
    assert {s.headers["Authorization"] for s in stack.upstream.seen} == {"Bearer dave-access-2-x7q"}


async def test_a_declined_consent_or_a_forged_callback_stores_nothing(stack: Stack) -> None:
    _, text = await stack.call("alice", "tasks__whoAmI")
    state = link_in(text).rpartition("state=")[2]
    async with aiohttp.ClientSession() as browser:
        forged = f"{stack.gateway_url}/oauth/callback?code=made-up&state=not-a-state"
        async with browser.get(forged) as response:
            assert response.status == 400
        declined = f"{stack.gateway_url}/oauth/callback?error=access_denied&state={state}"
        async with browser.get(declined) as response:
            assert response.status == 400
            assert "not completed (access_denied)" in await response.text()
        async with browser.get(f"{stack.gateway_url}/oauth/connect?state={state}") as response:
            assert response.status == 400  # the declined link is spent
    assert stack.stored("alice", "tasks") is None
    assert stack.oauth.grants == []


async def test_per_user_api_keys_come_from_each_users_vault_path_or_their_own_form(stack: Stack) -> None:
    stack.upstream.on("GET", "/v1/me", lambda seen: Reply(body={"key": seen.headers.get("X-API-Key", "")}))
    is_error, text = await stack.call("bob", "keyed__whoAmI")
    assert is_error is True
    assert f"secret/{stack.user_prefix}/bob/keyed" in text  # where the key goes
    stack.vault.admin().secrets.kv.v2.create_or_update_secret(
        path=f"{stack.user_prefix}/bob/keyed", secret={"apiKey": "bob-own-key-77"}
    )
    is_error, text = await stack.call("bob", "keyed__whoAmI")
    assert is_error is False
    assert stack.upstream.last().headers["X-API-Key"] == "bob-own-key-77"
    assert "bob-own-key-77" not in text  # the upstream echoed it: scrubbed

    _, text = await stack.call("carol", "keyed__whoAmI")  # carol enters hers in the gateway's form
    link = link_in(text)
    async with aiohttp.ClientSession() as browser:
        async with browser.get(link) as page:
            assert page.status == 200
            assert "form-action 'self'" in page.headers["Content-Security-Policy"]
            form = await page.text()
        assert 'type="password" name="apiKey"' in form
        state = link.rpartition("state=")[2]
        async with browser.post(link.partition("?")[0], data={"state": state, "apiKey": ""}) as empty:
            assert empty.status == 400  # nothing stored, the link still works
        async with browser.post(
            link.partition("?")[0], data={"state": state, "apiKey": "carol-key-5"}
        ) as saved:
            assert (saved.status, (await saved.text()).split(".")[0]) == (
                200,
                "Saved your credentials for keyed",
            )
        async with browser.post(link.partition("?")[0], data={"state": state, "apiKey": "mallory"}) as again:
            assert again.status == 400  # single use
    assert stack.stored("carol", "keyed") == {"apiKey": "carol-key-5"}
    is_error, _ = await stack.call("carol", "keyed__whoAmI")
    assert is_error is False
    assert stack.upstream.last().headers["X-API-Key"] == "carol-key-5"

    headers = {"Authorization": f"Bearer {stack.token('carol')}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{stack.gateway_url}/oauth/disconnect", json={"integration": "keyed"}, headers=headers
        ) as r,
    ):
        assert (r.status, await r.json()) == (200, {"integration": "keyed", "disconnected": True})
    assert stack.stored("carol", "keyed") is None
    is_error, text = await stack.call("carol", "keyed__whoAmI")  # forgotten at once, cache or not
    assert is_error is True
    assert "needs the user's own credentials" in text


async def test_two_users_concurrent_calls_always_carry_their_own_tokens(stack: Stack) -> None:
    def reply(seen: Seen) -> Reply:
        return Reply(body={"path": seen.path})

    stack.upstream.on("GET", "/v1/me", reply)
    tokens = {}
    for user in ("alice", "bob"):
        _, text = await stack.call(user, "tasks__whoAmI")
        assert (await stack.sign_in(link_in(text), user))[0] == 200
        tokens[user] = stack.stored(user, "tasks")["accessToken"]  # type: ignore[index]
    assert tokens["alice"] != tokens["bob"]
    stack.upstream.seen.clear()

    async def calls(user: str, count: int) -> list[tuple[bool, str]]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {stack.token(user)}"}) as http,
            Client(streamable_http_client(stack.mcp_url, http_client=http)) as client,
        ):

            async def one(i: int) -> tuple[bool, str]:
                result = await client.call_tool("tasks__getTask", {"projectId": user, "taskId": i + 1})
                return bool(result.is_error), "".join(c.text for c in result.content)  # type: ignore[union-attr]

            return await asyncio.gather(*(one(i) for i in range(count)))

    per_user = 150
    alice, bob = await asyncio.gather(calls("alice", per_user), calls("bob", per_user))
    assert all(not is_error for is_error, _ in alice + bob)
    assert len(stack.upstream.seen) == 2 * per_user
    for seen in stack.upstream.seen:
        user = seen.path.split("/")[3]  # /v1/projects/<user>/tasks/<i>
        assert seen.headers["Authorization"] == f"Bearer {tokens[user]}", seen.path
    assert {s.path.split("/")[3] for s in stack.upstream.seen} == {"alice", "bob"}


async def test_vault_down_is_a_clear_error_for_that_call_only(
    stack: Stack,
    issuer: Issuer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_category: StartCategory,
) -> None:
    echo_authorization(stack.upstream)
    down = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("TOOLMESH_VAULT_ADDR", down)
    monkeypatch.setenv("TOOLMESH_VAULT_TIMEOUT_SECONDS", "1")
    folder = tmp_path / "gateway-catalog"
    category = await start_category(
        {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*.yaml")}
    )
    runner, url = await serve_gateway(folder, issuer, category.mcp_url)
    try:
        async with (
            httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {issuer.token(sub='alice', aud=AUDIENCE)}"}
            ) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
            result = await client.call_tool("tasks__whoAmI", {})
            text = "".join(c.text for c in result.content)  # type: ignore[union-attr]
            assert result.is_error is True
            assert f"the credential store is unavailable: Vault at {down} is unavailable" in text
    finally:
        await runner.cleanup()
    assert stack.upstream.seen == []


async def test_no_secret_reaches_a_log_line_a_metric_or_a_result(
    stack: Stack, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, except the libraries toolmesh's logging keeps quieter:
    quiet_libraries()  # request lines, and the SDK's whole messages (a call's credentials travel in one)
    echo_authorization(stack.upstream)  # an upstream that echoes the credential back
    stack.oauth.first_lifetime = 30
    _, text = await stack.call("alice", "tasks__whoAmI")
    await stack.sign_in(link_in(text), "alice")
    for _ in range(3):
        await stack.call("alice", "tasks__whoAmI")  # refreshes once
    stack.vault.admin().secrets.kv.v2.create_or_update_secret(
        path=f"{stack.user_prefix}/alice/keyed", secret={"apiKey": "alice-own-key-31"}
    )
    await stack.call("alice", "keyed__whoAmI")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stack.gateway_url}/oauth/disconnect", json={"integration": "tasks"},
                             headers={"Authorization": f"Bearer {stack.token('alice')}"}) as response:  # fmt: skip
            assert response.status == 200
        async with http.get(f"{stack.gateway_url}/metrics") as response:
            metrics = await response.text()
    assert stack.oauth.grants == ["authorization_code", "refresh_token"]
    secrets = {*stack.oauth.issued, "alice-own-key-31"}
    assert len(secrets) >= 6
    assert 'toolmesh_gateway_oauth_total{event="refreshed",integration="tasks"} 1.0' in metrics
    assert 'outcome="needs_credentials"' in metrics
    printed = capsys.readouterr()
    logs = caplog.text + printed.out + printed.err  # the libraries' records and toolmesh's structlog lines
    haystacks = {"logs": logs, "metrics": metrics, "results": "\n".join(stack.results)}
    assert "tool.forwarded" in logs  # the gateway's log was captured
    assert "tool.called" in logs  # and the category server's
    assert "oauth.refreshed" in logs
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"{secret} in {where}"


@pytest.fixture
def redis_states(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRedis]:
    """A real Redis for the gateway's flows in progress (TOOLMESH_REDIS_URL), as the chart runs it."""
    with LocalRedis() as server:
        monkeypatch.setenv("TOOLMESH_REDIS_URL", server.url)
        yield server


@pytest.mark.redis
async def test_redis_down_fails_only_the_sign_in_and_it_works_again_once_redis_is_back(
    redis_states: LocalRedis, stack: Stack
) -> None:
    echo_authorization(stack.upstream)
    is_error, text = await stack.call("alice", "tasks__whoAmI")
    assert is_error
    assert (await stack.sign_in(link_in(text), "alice"))[0] == 200  # the state went through Redis

    _, carols = await stack.call("carol", "tasks__whoAmI")
    redis_states.stop()
    status, page = await stack.sign_in(link_in(carols), "carol")  # a link made before: its state is there
    assert status == 503
    assert "Try this link again in a minute: the gateway's store of sign-ins in progress" in page
    is_error, text = await stack.call("bob", "tasks__whoAmI")  # bob's sign-in needs a new state
    assert is_error
    assert text.startswith("tasks: the sign-in could not start: the gateway's store of sign-ins"), text
    assert "is unavailable (ConnectionError); try again shortly" in text, text
    assert (await stack.call("alice", "tasks__whoAmI"))[0] is False  # a connected user is not affected

    redis_states.start()  # the same address: the gateway reconnects on its own
    is_error, text = await stack.call("bob", "tasks__whoAmI")
    assert is_error
    assert (await stack.sign_in(link_in(text), "bob"))[0] == 200
    assert (await stack.call("bob", "tasks__whoAmI"))[0] is False


PROPERTY_EXAMPLES = int(os.environ.get("TOOLMESH_PROPERTY_EXAMPLES", "300"))
ROUTES = [("GET", CONNECT_PATH), ("POST", CONNECT_PATH), ("GET", CALLBACK_PATH), ("POST", DISCONNECT_PATH)]
texts = st.text(max_size=40) | st.sampled_from(
    ["", "tasks", "keyed", "access_denied", "%00", "../x", "a" * 300]
)


@settings(
    max_examples=PROPERTY_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    query=st.dictionaries(st.sampled_from(["state", "code", "error", "scope", "x"]), texts, max_size=3),
    form=st.dictionaries(st.sampled_from(["state", "apiKey", "token", "username", "x"]), texts, max_size=4),
    payload=st.none()
    | st.binary(max_size=64)
    | st.dictionaries(st.sampled_from(["integration", "x"]), texts),
    signed=st.booleans(),
)
async def test_the_oauth_pages_answer_any_request_without_a_5xx(
    stack: Stack,
    route: tuple[str, str],
    query: dict[str, str],
    form: dict[str, str],
    payload: Any,
    signed: bool,
) -> None:
    """The browser-facing sign-in pages and the disconnect endpoint, under any query, form or body:
    a page or JSON with a 2xx-4xx status (never a 5xx, never a traceback), and nothing stored."""
    method, path = route
    headers = {"Authorization": f"Bearer {stack.token('mallory')}"} if signed else {}
    body: dict[str, Any] = {"data": form} if method == "POST" and path == CONNECT_PATH else {}
    if path == DISCONNECT_PATH:
        body = {"json": payload} if isinstance(payload, dict) else {"data": payload}
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, stack.gateway_url + path, params=query, headers=headers, allow_redirects=False, **body
        ) as response,
    ):
        text = await response.text()
    assert response.status < 500, (response.status, text[:300])
    assert "Traceback" not in text
    assert stack.stored("mallory", "tasks") is None
