"""Upstream identity through the gateway, on real parts: OpenBao for the tokens, a test issuer for
the callers' JWTs, a stub OAuth authorization server and a stub upstream API; SDK client → gateway
→ category server → upstream (tests/e2e/identity_stack.py).

The brokered authorization-code flow with PKCE from the connect link to the upstream call; refresh;
disconnect with revocation; per-user credentials kept in Vault; two users' concurrent calls never
crossing. What fails, and what must never leak: test_gateway_identity_failures.py."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests import leaks
from tests.e2e.identity_stack import Stack, echo_authorization, link_in
from tests.e2e.stub_upstream import Reply, Seen

pytestmark = [pytest.mark.e2e, pytest.mark.vault]
leaks.secret("bob-own-key-77", "carol-key-5")


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
