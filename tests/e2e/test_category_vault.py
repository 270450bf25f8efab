"""A category server's upstream credentials from Vault (real OpenBao), and a caller's own
credentials sent by the gateway with one call: SDK client → category server → stub upstream."""

from __future__ import annotations

import logging
import uuid

import aiohttp
import hvac
import pytest
from mcp import Client

from tests import leaks
from tests.conftest import StartCategory
from tests.e2e.remote_mcp import HeaderRecorder
from tests.e2e.stub_upstream import Reply, StubUpstream
from tests.e2e.test_category_server import tasks_server, text
from tests.e2e.test_federation import remote_integration
from toolmesh.common.credentials_meta import USER_CREDENTIALS_META
from toolmesh.common.logging import quiet_libraries
from toolmesh.testing.cluster import free_port
from toolmesh.testing.vault import ROOT_TOKEN, DevVault

pytestmark = [pytest.mark.e2e, pytest.mark.vault]
leaks.secret("vault-key-1", "vault-key-2", "alice-key-1", "bob-key-22", "vault-remote-7")


def vault_auth(path: str, kind: str = "apiKey") -> str:
    placement = "\n        apiKey: {in: header, name: X-API-Key}" if kind == "apiKey" else ""
    return f"""
      auth:
        type: {kind}{placement}
        vaultPath: {path}"""


def category_approle(dev_vault: DevVault, monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    """The category server logs in with an AppRole that may read only ``secret/<prefix>/*``."""
    admin: hvac.Client = dev_vault.admin()
    if "approle/" not in admin.sys.list_auth_methods():
        admin.sys.enable_auth_method("approle")
    admin.sys.create_or_update_policy(
        f"cat-{prefix}", f'path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}'
    )
    admin.auth.approle.create_or_update_approle(f"cat-{prefix}", token_policies=[f"cat-{prefix}"])
    role_id = admin.auth.approle.read_role_id(f"cat-{prefix}")["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id(f"cat-{prefix}")["data"]["secret_id"]
    for name, value in {"ADDR": dev_vault.addr, "AUTH_METHOD": "approle", "ROLE_ID": role_id,
                        "SECRET_ID": secret_id, "CACHE_SECONDS": "0"}.items():  # fmt: skip
        monkeypatch.setenv(f"TOOLMESH_VAULT_{name}", value)


async def test_shared_credentials_come_from_the_vault_path(
    dev_vault: DevVault,
    monkeypatch: pytest.MonkeyPatch,
    start_category: StartCategory,
    upstream: StubUpstream,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    quiet_libraries()  # as toolmesh's logging configures them
    prefix = uuid.uuid4().hex[:8]
    category_approle(dev_vault, monkeypatch, prefix)
    admin = dev_vault.admin()
    admin.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/tasks", secret={"apiKey": "vault-key-1"})
    upstream.on("GET", "/v1/projects", Reply(body={"echo": "vault-key-1 seen"}))
    url = await tasks_server(start_category, upstream, vault_auth(f"{prefix}/tasks"))
    async with Client(url) as client:
        result = await client.call_tool("tasks__listProjects", {})
        assert result.is_error is False
        assert upstream.last().headers["X-API-Key"] == "vault-key-1"
        assert "vault-key-1" not in text(result)  # an upstream echoing the key is scrubbed

        # rotated in Vault: the next read (cache off here) uses the new key, no restart
        admin.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/tasks", secret={"apiKey": "vault-key-2"})
        assert (await client.call_tool("tasks__listProjects", {})).is_error is False
        assert upstream.last().headers["X-API-Key"] == "vault-key-2"
    async with aiohttp.ClientSession() as http, http.get(url.removesuffix("/mcp") + "/metrics") as response:
        metrics = await response.text()
    printed = capsys.readouterr()
    assert "tool.called" in printed.out + printed.err
    for where, haystack in {"logs": caplog.text + printed.out + printed.err, "metrics": metrics}.items():
        for secret in ("vault-key-1", "vault-key-2"):
            assert secret not in haystack, f"{secret} in {where}"


async def test_vault_problems_fail_only_the_call_and_say_what_to_fix(
    dev_vault: DevVault,
    monkeypatch: pytest.MonkeyPatch,
    start_category: StartCategory,
    upstream: StubUpstream,
) -> None:
    prefix = uuid.uuid4().hex[:8]
    category_approle(dev_vault, monkeypatch, prefix)
    dev_vault.admin().secrets.kv.v2.create_or_update_secret(
        path=f"other-{prefix}/x", secret={"apiKey": "nope"}
    )
    url = await tasks_server(start_category, upstream, vault_auth(f"{prefix}/missing"))
    async with Client(url) as client:
        missing = await client.call_tool("tasks__listProjects", {})
        assert missing.is_error is True
        assert f"Vault has no secret at secret/{prefix}/missing" in text(missing)

    url = await tasks_server(start_category, upstream, vault_auth(f"other-{prefix}/x"))
    async with Client(url) as client:
        denied = await client.call_tool("tasks__listProjects", {})
        assert denied.is_error is True
        assert f"Vault denies secret/other-{prefix}/x" in text(denied)
        assert "nope" not in text(denied)

    down = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("TOOLMESH_VAULT_ADDR", down)
    monkeypatch.setenv("TOOLMESH_VAULT_TIMEOUT_SECONDS", "1")
    url = await tasks_server(start_category, upstream, vault_auth(f"{prefix}/tasks"))
    async with Client(url) as client:
        unavailable = await client.call_tool("tasks__listProjects", {})
        assert unavailable.is_error is True
        assert f"Vault at {down} is unavailable" in text(unavailable)
    assert upstream.seen == []  # no call went out without its credential


async def test_without_vault_configured_a_vault_path_says_which_setting_is_missing(
    monkeypatch: pytest.MonkeyPatch, start_category: StartCategory, upstream: StubUpstream
) -> None:
    monkeypatch.delenv("TOOLMESH_VAULT_ADDR", raising=False)
    url = await tasks_server(start_category, upstream, vault_auth("toolmesh/tasks"))
    async with Client(url) as client:
        result = await client.call_tool("tasks__listProjects", {})
        assert result.is_error is True
        assert "set TOOLMESH_VAULT_ADDR" in text(result)


PER_USER = """
      auth:
        type: apiKey
        apiKey: {in: header, name: X-API-Key}
        perUser: true"""


async def test_a_callers_own_credentials_are_used_for_that_call_only(
    start_category: StartCategory, upstream: StubUpstream
) -> None:
    upstream.on("GET", "/v1/projects", lambda seen: Reply(body={"you": seen.headers.get("X-API-Key", "")}))
    url = await tasks_server(start_category, upstream, PER_USER)
    async with Client(url) as client:
        mine = await client.call_tool(
            "tasks__listProjects", {}, meta={USER_CREDENTIALS_META: {"apiKey": "alice-key-1"}}
        )
        assert mine.is_error is False
        assert upstream.last().headers["X-API-Key"] == "alice-key-1"
        assert "alice-key-1" not in text(mine)  # echoed back by the upstream: scrubbed

        other = await client.call_tool(
            "tasks__listProjects", {}, meta={USER_CREDENTIALS_META: {"apiKey": "bob-key-22"}}
        )
        assert upstream.last().headers["X-API-Key"] == "bob-key-22"
        assert other.is_error is False

        anonymous = await client.call_tool("tasks__listProjects", {})
        assert anonymous.is_error is True
        assert "each user's own credentials" in text(anonymous)
        wrong = await client.call_tool(
            "tasks__listProjects", {}, meta={USER_CREDENTIALS_META: {"token": "x"}}
        )
        assert wrong.is_error is True
        assert "has no 'apiKey'" in text(wrong)
    assert len(upstream.seen) == 2


async def test_a_federated_remote_gets_its_bearer_token_from_vault(
    dev_vault: DevVault, monkeypatch: pytest.MonkeyPatch, start_category: StartCategory,
    remote: tuple[str, HeaderRecorder],
) -> None:  # fmt: skip
    prefix = uuid.uuid4().hex[:8]
    category_approle(dev_vault, monkeypatch, prefix)
    dev_vault.admin().secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/calc", secret={"token": "vault-remote-7"}
    )
    url, recorder = remote
    integration = remote_integration(url).replace(
        "auth: {type: bearer, secretRef: {name: calc-token}}",
        f"auth: {{type: bearer, vaultPath: {prefix}/calc}}",
    )
    server = await start_category({"calc.yaml": integration})
    async with Client(server.mcp_url) as client:
        result = await client.call_tool("calc__add", {"a": 1, "b": 2})
    assert result.is_error is False
    assert recorder.headers
    assert all(h.get("authorization") == "Bearer vault-remote-7" for h in recorder.headers)


async def test_vault_down_then_back_fails_only_the_calls_meanwhile(
    monkeypatch: pytest.MonkeyPatch, start_category: StartCategory, upstream: StubUpstream
) -> None:
    """Vault restarted under a running category server (its storage kept: the secret is written
    again, as a dev server forgets it): the calls while it is down fail naming it, and the first
    call once it is back succeeds, with no restart of the category server."""
    with DevVault() as vault:
        for name, value in {"ADDR": vault.addr, "AUTH_METHOD": "token", "TOKEN": ROOT_TOKEN,
                            "CACHE_SECONDS": "0", "TIMEOUT_SECONDS": "1"}.items():  # fmt: skip
            monkeypatch.setenv(f"TOOLMESH_VAULT_{name}", value)

        def seed() -> None:
            vault.admin().secrets.kv.v2.create_or_update_secret(
                path="fault/tasks", secret={"apiKey": "vault-key-1"}
            )

        seed()
        upstream.on("GET", "/v1/projects", Reply(body={"projects": []}))
        url = await tasks_server(start_category, upstream, vault_auth("fault/tasks"))
        async with Client(url) as client:
            assert (await client.call_tool("tasks__listProjects", {})).is_error is False
            vault.stop()
            calls = len(upstream.seen)
            down = await client.call_tool("tasks__listProjects", {})
            assert down.is_error is True
            assert f"Vault at {vault.addr} is unavailable" in text(down)
            assert len(upstream.seen) == calls  # nothing went out without its credential
            vault.start()
            seed()
            back = await client.call_tool("tasks__listProjects", {})
            assert back.is_error is False, text(back)
            assert upstream.last().headers["X-API-Key"] == "vault-key-1"
