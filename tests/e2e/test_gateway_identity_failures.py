"""Upstream identity through the gateway when parts fail or input is hostile (the stack of
tests/e2e/identity_stack.py): Vault down, Redis down, no secret in any log line, metric or tool
result, and the sign-in pages under any request."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests import leaks
from tests.conftest import StartCategory
from tests.e2e.identity_stack import Stack, echo_authorization, link_in, serve_gateway
from tests.e2e.issuer import AUDIENCE, Issuer
from toolmesh.common.logging import quiet_libraries
from toolmesh.gateway.identity.oauth import CALLBACK_PATH, CONNECT_PATH, DISCONNECT_PATH
from toolmesh.testing.cluster import free_port
from toolmesh.testing.redis import LocalRedis

pytestmark = [pytest.mark.e2e, pytest.mark.vault]
leaks.secret("alice-own-key-31")


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
