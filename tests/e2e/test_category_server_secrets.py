"""The category server keeps what it must to itself, SDK client → category server → stub upstream:
no call to an internal address under public egress, and no credential echoed back by an upstream
reaches the agent, in any form (header, query, cookie, Basic, encoded or not)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from mcp import Client

from tests import leaks
from tests.conftest import DEMO_SPEC, StartCategory
from tests.e2e.stub_upstream import Reply, Seen, StubUpstream
from tests.e2e.test_category_server import SECRET, tasks_integration, tasks_server, text
from toolmesh.common.secrets import forms

pytestmark = pytest.mark.e2e
Connect = Callable[[str], Client]


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"], ids=["address", "name"])
async def test_with_public_egress_an_internal_upstream_is_refused_unless_its_network_is_allowed(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect, name: str
) -> None:
    async def served(**settings: object) -> str:
        server = await start_category({
            "integrations.yaml": tasks_integration(upstream.url.replace("127.0.0.1", name)),
            "secrets.yaml": SECRET,
            "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
        }, egress="public", **settings)  # fmt: skip
        return server.mcp_url

    async with connect(await served()) as client:
        refused = await client.call_tool("tasks__listProjects", {})
    assert refused.is_error is True
    assert "not a public address" in text(refused)
    assert "TOOLMESH_CATEGORY_EGRESS_ALLOW" in text(refused)
    assert upstream.seen == []
    async with connect(await served(egress_allow=["127.0.0.0/8", "::1/128"])) as client:
        assert (await client.call_tool("tasks__listProjects", {})).is_error is False


async def test_credentials_echoed_by_the_upstream_are_scrubbed(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    upstream.on(
        "GET",
        "/v1/projects",
        lambda seen: Reply(status=401, body={"error": f"bad key {seen.headers['X-API-Key']}"}),
    )
    async with connect(await tasks_server(start_category, upstream)) as client:
        result = await client.call_tool("tasks__listProjects", {})
        assert result.is_error is True
        assert "key-123456" not in text(result)
        assert "bad key [redacted]" in text(result)


SPECIAL = {"apiKey": 'k3y/with "quotes"&plus+é=', "username": "ada lovelace", "password": "pa:ss/wörd+1"}
leaks.secret(*SPECIAL.values())


@pytest.mark.parametrize(
    "auth",
    [
        "auth: {type: apiKey, apiKey: {in: header, name: X-API-Key}, secretRef: {name: special}}",
        "auth: {type: apiKey, apiKey: {in: query, name: key}, secretRef: {name: special}}",
        "auth: {type: apiKey, apiKey: {in: cookie, name: key}, secretRef: {name: special}}",
        "auth: {type: basic, secretRef: {name: special}}",
    ],
    ids=["header", "query", "cookie", "basic"],
)
async def test_every_form_of_a_credential_the_upstream_echoes_is_scrubbed(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect, auth: str
) -> None:
    def echo(seen: Seen) -> Reply:  # what careless APIs send back: raw query, headers as JSON, decoded Basic
        basic = seen.headers.get("Authorization", "Basic ").removeprefix("Basic ")
        return Reply(
            status=401,
            body={
                "query": seen.query,
                "headers": dict(seen.headers),
                "basic": base64.b64decode(basic).decode() if basic else "",
            },
        )

    upstream.on("GET", "/v1/projects", echo)
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: special}\nstringData: " + json.dumps(SPECIAL)
    server = await start_category({
        "integrations.yaml": tasks_integration(upstream.url, "  " + auth),
        "secrets.yaml": secret,
        "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
    })  # fmt: skip
    async with connect(server.mcp_url) as client:
        result = await client.call_tool("tasks__listProjects", {})
    shown = text(result)
    assert result.is_error is True
    assert "[redacted]" in shown
    for value in SPECIAL.values():
        for form in forms(value):
            assert form not in shown, (form, shown)
