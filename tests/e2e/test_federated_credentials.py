"""Per-user credentials for a federated remote MCP server, on real parts: OpenBao for the users'
tokens, a test issuer for the callers' JWTs, the SDK's own MCPServer as the remote (recording the
headers of every request); SDK client → gateway → category server → remote.

Each user reaches the remote with their own token and never another's; a user without one is
told how to give it; the category server keeps one connection per caller credential, bounded;
no token reaches a log line or a result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import textwrap
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.transport_security import TransportSecuritySettings

from tests import leaks
from tests.conftest import StartCategory
from tests.e2e.conftest import MODES
from tests.e2e.identity_stack import gateway_approle, serve_gateway
from tests.e2e.issuer import AUDIENCE, Issuer
from tests.e2e.remote_mcp import HeaderRecorder
from toolmesh.category.caller_clients import CallerClients, credential_key
from toolmesh.category.federation import http_connector
from toolmesh.category.mid_call import MidCallRelay
from toolmesh.common.call_meta import OUTAGE_META
from toolmesh.common.logging import quiet_libraries
from toolmesh.testing.cluster import free_port
from toolmesh.testing.vault import DevVault

pytestmark = pytest.mark.e2e
TOKENS = {"alice": "alice-remote-tok-4815", "bob": "bob-remote-tok-1623"}
leaks.secret(*TOKENS.values())


@contextlib.asynccontextmanager
async def serve_remote() -> AsyncIterator[tuple[str, HeaderRecorder]]:
    """A remote that says whose token a call carried, and one tool that echoes the token back."""
    users = {f"Bearer {token}": user for user, token in TOKENS.items()}
    mcp = MCPServer("whoami")

    @mcp.tool()
    async def whoami(ctx: Context) -> str:  # type: ignore[type-arg]
        """Whose token this call carried."""
        await asyncio.sleep(0)  # let the other user's calls interleave
        return users.get((ctx.headers or {}).get("authorization", ""), "nobody")

    @mcp.tool()
    def echo(ctx: Context) -> str:  # type: ignore[type-arg]
        """The Authorization header, back (a careless remote)."""
        return f"you sent {(ctx.headers or {}).get('authorization', '')}"

    app = HeaderRecorder(mcp.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False)
    ))  # fmt: skip
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(5):
        while not server.started:
            await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/mcp", app
    finally:
        server.should_exit = True
        await task


def files(remote_url: str) -> dict[str, str]:
    return {
        "catalog.yaml": f"""
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPCategory
            metadata: {{name: pm}}
            spec: {{description: "Who am I"}}
            ---
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPIntegration
            metadata: {{name: whoami}}
            spec:
              category: pm
              toolPrefix: who
              mcp: {{url: "{remote_url}"}}
              auth: {{type: bearer, perUser: true}}
        """
    }


@dataclass
class Stack:
    gateway_url: str
    category_url: str
    issuer: Issuer
    recorder: HeaderRecorder

    async def call(self, user: str, tool: str, count: int = 1, mode: str = "auto") -> list[tuple[bool, str]]:
        token = self.issuer.token(sub=user, aud=AUDIENCE)
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            Client(streamable_http_client(f"{self.gateway_url}/mcp", http_client=http), mode=mode) as client,  # type: ignore[arg-type]
        ):
            results = await asyncio.gather(*(client.call_tool(tool, {}) for _ in range(count)))
        return [(bool(r.is_error), "".join(c.text for c in r.content)) for r in results]  # type: ignore[union-attr]


@pytest.fixture
async def stack(
    dev_vault: DevVault, issuer: Issuer, start_category: StartCategory, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Stack]:  # fmt: skip
    uid = uuid.uuid4().hex[:8]
    prefix = f"f{uid}/users"
    for user, token in TOKENS.items():
        dev_vault.admin().secrets.kv.v2.create_or_update_secret(
            path=f"{prefix}/{user}/whoami", secret={"token": token}
        )
    async with serve_remote() as (url, recorder):
        catalog = files(url)
        category = await start_category(catalog)
        folder = tmp_path / "gateway-catalog"
        folder.mkdir()
        for name, text in catalog.items():
            (folder / name).write_text(textwrap.dedent(text))
        for key, value in gateway_approle(dev_vault, prefix, f"f{uid}/none").items():
            monkeypatch.setenv(f"TOOLMESH_VAULT_{key}", value)
        runner, gateway_url = await serve_gateway(folder, issuer, category.mcp_url)
        try:
            yield Stack(gateway_url, category.mcp_url, issuer, recorder)
        finally:
            await runner.cleanup()


@pytest.mark.vault
@pytest.mark.parametrize("mode", MODES)
async def test_each_user_reaches_the_remote_with_their_own_token_and_never_another(
    stack: Stack, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    quiet_libraries()  # as toolmesh runs: the SDK's whole messages (a call's credentials in one) stay quiet
    alice, bob = await asyncio.gather(
        stack.call("alice", "who__whoami", 25, mode), stack.call("bob", "who__whoami", 25, mode)
    )
    assert alice == [(False, "alice")] * 25
    assert bob == [(False, "bob")] * 25
    sent = {h.get("authorization") for h in stack.recorder.headers}
    # The listing connection carries none; each user's calls carry their own token, and only theirs.
    assert sent == {None, f"Bearer {TOKENS['alice']}", f"Bearer {TOKENS['bob']}"}

    echoed = await stack.call("alice", "who__echo", mode=mode)
    assert echoed == [(False, "you sent Bearer [redacted]")]  # a remote's echo is scrubbed

    before = len(stack.recorder.headers)
    [(is_error, text)] = await stack.call("carol", "who__whoami", mode=mode)
    assert is_error is True
    assert "whoami needs the user's own credentials (token): ask them to open http://" in text
    assert "/carol/whoami" in text  # where the token goes in Vault
    assert len(stack.recorder.headers) == before  # nothing went to the remote for carol

    printed = capsys.readouterr()
    logs = caplog.text + printed.out + printed.err
    assert "tool.called" in logs  # the category server's log was captured
    for token in TOKENS.values():
        assert token not in logs
        assert token not in echoed[0][1]


async def test_a_call_without_the_callers_credentials_is_told_to_come_through_the_gateway(
    start_category: StartCategory,
) -> None:
    async with serve_remote() as (url, recorder):
        category = await start_category(files(url))
        async with Client(category.mcp_url) as client:
            assert [t.name for t in (await client.list_tools()).tools] == ["who__whoami", "who__echo"]
            result = await client.call_tool("who__whoami", {})
    assert result.is_error is True
    assert result.content[0].text == (  # type: ignore[union-attr]
        "this integration uses each user's own credentials, which the gateway sends with the call: "
        "call it through the gateway as a signed-in user"
    )
    assert OUTAGE_META not in (result.meta or {})  # not an outage: the remote is fine
    assert {h.get("authorization") for h in recorder.headers} == {None}  # only the listing


async def test_caller_connections_are_bounded_least_recently_used_first_and_expire_when_idle() -> None:
    now = [0.0]
    async with serve_remote() as (url, recorder):
        clients = CallerClients(
            "whoami", lambda headers: http_connector("whoami", url, headers, 10.0, MidCallRelay()), 10.0,
            max_clients=2, idle_after=60.0, clock=lambda: now[0],
        )  # fmt: skip
        bearer = {user: {"Authorization": f"Bearer {token}"} for user, token in TOKENS.items()}
        first = clients.client(bearer["alice"])
        assert (await first.call("whoami", {})).content[0].text == "alice"  # type: ignore[union-attr]
        now[0] = 10.0
        assert clients.client(bearer["bob"]) is not first
        assert clients.client(bearer["alice"]) is first  # used again: now the most recent
        third = clients.client({"Authorization": "Bearer someone-else"})
        assert len(clients) == 2  # bob's, least recently used, made room
        assert clients.client(bearer["alice"]) is first
        assert (await third.call("whoami", {})).content[0].text == "nobody"

        now[0] = 10.0 + 61
        fresh = clients.client(bearer["bob"])
        assert len(clients) == 1  # alice's and the third, idle past the limit, were closed and dropped
        assert (await fresh.call("whoami", {})).content[0].text == "bob"
        await clients.stop()
        assert not first.running
        assert len(clients) == 0
    assert credential_key({"Authorization": "x"}) == credential_key({"authorization": "x"})
    assert TOKENS["alice"] not in credential_key(bearer["alice"])
    assert {h.get("authorization") for h in recorder.headers} == {
        f"Bearer {TOKENS['alice']}", f"Bearer {TOKENS['bob']}", "Bearer someone-else",
    }  # fmt: skip
