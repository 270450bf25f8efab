"""Profiles end to end, through the official SDK client: callers with different profiles (JWTs
from a test issuer, with groups) see different tool lists and different searches, and a tool
outside a caller's profile is refused as if it did not exist, whichever face the call takes."""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.conftest import StartGateway
from tests.e2e.issuer import AUDIENCE, Issuer
from tests.e2e.test_gateway_auth import PAYROLL

pytestmark = pytest.mark.e2e

PROFILES = """
    apiVersion: toolmesh.dev/v1alpha1
    kind: MCPProfile
    metadata: {name: support}
    spec:
      subjects: {groups: [support]}
      tools: {names: ["tasks__list*", "tasks__get*"]}
    ---
    apiVersion: toolmesh.dev/v1alpha1
    kind: MCPProfile
    metadata: {name: finance}
    spec:
      subjects: {groups: [finance]}
      tools: {integrations: [payroll], names: [tasks__whoAmI]}
"""
#: The catalog: tasks and payroll, 8 tools each; above this, tools/list shows the meta-tools.
DIRECT_LIMIT = 5
UNKNOWN = "unknown tool 'tasks__listProjects'"


class Session:
    """One caller's SDK client session to the gateway."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        self.client = Client(streamable_http_client(url, http_client=self.http))

    async def __aenter__(self) -> Session:
        await self.http.__aenter__()
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.__aexit__(*exc)
        await self.http.__aexit__(*exc)

    async def listed(self) -> list[str]:
        return sorted(t.name for t in (await self.client.list_tools()).tools)

    async def text(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        result = await self.client.call_tool(name, arguments)
        return bool(result.is_error), "".join(getattr(b, "text", "") for b in result.content)


async def test_two_profiles_see_different_tools_and_searches_and_nothing_outside_them(
    start_gateway: StartGateway, issuer: Issuer
) -> None:
    gateway = await start_gateway(
        extra={"payroll.yaml": PAYROLL, "profiles.yaml": PROFILES}, auth="jwt", auth_issuer=issuer.url,
        auth_jwks_url=f"{issuer.url}/jwks", auth_audience=AUDIENCE, direct_tools_limit=DIRECT_LIMIT,
        lexical_only=True,
    )  # fmt: skip
    support = issuer.token(sub="bob", groups=["support"])
    finance = issuer.token(sub="carol", groups=["finance"])
    nobody = issuer.token(sub="dave", groups=["marketing"])

    async with Session(gateway.mcp_url, support) as bob:
        # A small profile: its tools are listed directly, and only they.
        assert await bob.listed() == ["tasks__getTask", "tasks__listProjects", "tasks__listTasks"]
        failed, text = await bob.text("tasks__listProjects", {})
        assert not failed, text
        failed, text = await bob.text("tasks__deleteTask", {"taskId": "1"})
        assert failed
        assert "unknown tool 'tasks__deleteTask'" in text  # not told apart from a missing tool
        failed, text = await bob.text("search_tools", {"query": "delete a task", "limit": 20})
        assert "tasks__getTask" in text  # search answers, within the profile
        assert "tasks__deleteTask" not in text
        assert "payroll__" not in text

    async with Session(gateway.mcp_url, finance) as carol:
        # A larger profile: the meta-tools, its tools the scope of search.
        assert await carol.listed() == ["call_tool", "describe_tools", "search_tools"]
        failed, text = await carol.text("search_tools", {"query": "list projects", "limit": 20})
        assert "payroll__listProjects" in text
        assert "tasks__listProjects" not in text
        failed, text = await carol.text("describe_tools", {"names": ["tasks__listProjects"]})
        assert failed
        assert "unknown tools: tasks__listProjects" in text
        failed, text = await carol.text("call_tool", {"name": "tasks__listProjects", "arguments": {}})
        assert failed
        assert UNKNOWN in text
        failed, text = await carol.text("tasks__listProjects", {})  # the direct face too
        assert failed
        assert UNKNOWN in text

    async with Session(gateway.mcp_url, nobody) as dave:
        # No profile names dave and none is a default: not limited by profiles (spec.access still holds).
        assert await dave.listed() == ["call_tool", "describe_tools", "search_tools"]
        failed, text = await dave.text("search_tools", {"query": "list projects", "limit": 20})
        assert "tasks__listProjects" in text
        assert "payroll__listProjects" not in text  # payroll's spec.access: finance only


async def test_a_profile_never_widens_spec_access(start_gateway: StartGateway, issuer: Issuer) -> None:
    widening = """
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPProfile
        metadata: {name: support-wants-payroll}
        spec:
          subjects: {groups: [support]}
          tools: {integrations: [payroll, tasks]}
    """
    gateway = await start_gateway(
        extra={"payroll.yaml": PAYROLL, "profiles.yaml": widening}, auth="jwt", auth_issuer=issuer.url,
        auth_jwks_url=f"{issuer.url}/jwks", auth_audience=AUDIENCE, direct_tools_limit=100, lexical_only=True,
    )  # fmt: skip
    async with Session(gateway.mcp_url, issuer.token(sub="bob", groups=["support"])) as bob:
        listed = await bob.listed()
        assert "tasks__listProjects" in listed
        assert not [t for t in listed if t.startswith("payroll__")]
        failed, text = await bob.text("payroll__listProjects", {})
        assert failed
        assert "unknown tool 'payroll__listProjects'" in text


async def test_a_default_profile_limits_the_callers_no_profile_names(
    start_gateway: StartGateway, issuer: Issuer
) -> None:
    default = """
        apiVersion: toolmesh.dev/v1alpha1
        kind: MCPProfile
        metadata: {name: everyone-else}
        spec:
          default: true
          tools: {names: [tasks__whoAmI]}
    """
    gateway = await start_gateway(
        extra={"profiles.yaml": PROFILES + "    ---" + default}, auth="jwt", auth_issuer=issuer.url,
        auth_jwks_url=f"{issuer.url}/jwks", auth_audience=AUDIENCE, direct_tools_limit=DIRECT_LIMIT,
        lexical_only=True,
    )  # fmt: skip
    async with Session(gateway.mcp_url, issuer.token(sub="dave", groups=["marketing"])) as dave:
        assert await dave.listed() == ["tasks__whoAmI"]
    async with Session(gateway.mcp_url, issuer.token(sub="bob", groups=["support"])) as bob:
        assert "tasks__whoAmI" not in await bob.listed()


async def test_the_console_shows_a_caller_only_the_tools_of_its_profiles(
    start_gateway: StartGateway, issuer: Issuer
) -> None:
    gateway = await start_gateway(
        extra={"payroll.yaml": PAYROLL, "profiles.yaml": PROFILES}, auth="jwt", auth_issuer=issuer.url,
        auth_jwks_url=f"{issuer.url}/jwks", auth_audience=AUDIENCE, direct_tools_limit=DIRECT_LIMIT,
        lexical_only=True,
    )  # fmt: skip
    console = gateway.mcp_url.removesuffix("/mcp") + "/console"
    headers = {"Authorization": f"Bearer {issuer.token(sub='bob', groups=['support'])}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{console}/integrations/tasks") as page:
            assert page.status == 200
            html = await page.text()
        assert "tasks__getTask" in html
        assert "tasks__deleteTask" not in html
        async with http.get(f"{console}/integrations/payroll") as page:
            assert page.status == 404  # spec.access: not told apart from a missing integration
        async with http.post(f"{console}/search", data={"query": "delete a task", "limit": "20"}) as page:
            html = await page.text()
        assert "tasks__getTask" in html
        assert "tasks__deleteTask" not in html
