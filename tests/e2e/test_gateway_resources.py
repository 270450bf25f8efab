"""Federated servers' prompts, resources and resource templates through the gateway: the SDK client
→ gateway → category servers (local mode, started as processes) → a remote SDK server and a stdio
SDK server; in both protocol generations, filtered by ``spec.access`` like tools."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator

import httpx2
import pytest
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.e2e.conftest import MODES, Gateway, StartGateway
from tests.e2e.issuer import AUDIENCE, Issuer
from tests.e2e.remote_mcp import serve_remote
from tests.e2e.test_federated_resources import contents_text, message_text
from tests.e2e.test_federation import STDIO_SERVER

pytestmark = pytest.mark.e2e


def federated(remote_url: str) -> dict[str, str]:
    """A remote calculator only the finance group may use, and a stdio notes server open to all."""
    return {
        "federated.yaml": f"""
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPCategory
            metadata: {{name: ai}}
            spec: {{description: "Arithmetic"}}
            ---
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPCategory
            metadata: {{name: data}}
            spec: {{description: "Notes"}}
            ---
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPIntegration
            metadata: {{name: calculator}}
            spec:
              category: ai
              toolPrefix: calc
              mcp: {{url: "{remote_url}"}}
              access: {{groups: [finance]}}
            ---
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPIntegration
            metadata: {{name: notes}}
            spec:
              category: data
              stdio: {{command: {sys.executable}, args: ["{STDIO_SERVER}"]}}
        """
    }


async def start(start_gateway: StartGateway, issuer: Issuer, remote_url: str) -> Gateway:
    gateway = await start_gateway(
        extra=federated(remote_url), auth="jwt", auth_issuer=issuer.url,
        auth_jwks_url=f"{issuer.url}/jwks", auth_audience=AUDIENCE,
    )  # fmt: skip
    assert gateway.service.catalog.problems == {}, "both category servers started and served"
    return gateway


@contextlib.asynccontextmanager
async def client_as(gateway: Gateway, token: str, mode: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(gateway.mcp_url, http_client=http), mode=mode) as client,  # type: ignore[arg-type]
    ):
        yield client


@pytest.mark.parametrize("mode", MODES)
async def test_a_caller_lists_gets_and_reads_what_it_may_use_and_nothing_else(
    start_gateway: StartGateway, issuer: Issuer, mode: str
) -> None:
    async with serve_remote() as (url, _):
        gateway = await start(start_gateway, issuer, url)
        alice = issuer.token(sub="alice", groups=["finance"])
        async with client_as(gateway, alice, mode) as client:
            capabilities = client.server_capabilities
            assert capabilities.prompts is not None
            assert capabilities.resources is not None
            assert {p.name for p in (await client.list_prompts()).prompts} == {
                "calc__explain",
                "notes__summarize",
            }
            assert {r.uri for r in (await client.list_resources()).resources} == {
                "toolmesh://calculator/calc://constants/pi",
                "toolmesh://notes/notes://today",
            }
            templates = (await client.list_resource_templates()).resource_templates
            assert {t.uri_template for t in templates} == {
                "toolmesh://calculator/calc://square/{n}",
                "toolmesh://notes/notes://day/{day}",
            }
            got = await client.get_prompt("calc__explain", {"operation": "add"})
            assert message_text(got) == "Explain how to add two numbers."
            pi = await client.read_resource("toolmesh://calculator/calc://constants/pi")
            assert contents_text(pi) == [("toolmesh://calculator/calc://constants/pi", "3.14159")]
            square = await client.read_resource("toolmesh://calculator/calc://square/9")
            assert contents_text(square) == [("toolmesh://calculator/calc://square/9", "81")]
            today = await client.read_resource("toolmesh://notes/notes://today")
            assert contents_text(today) == [("toolmesh://notes/notes://today", "buy milk")]

        bob = issuer.token(sub="bob", groups=["engineering"])
        async with client_as(gateway, bob, mode) as client:
            assert {p.name for p in (await client.list_prompts()).prompts} == {"notes__summarize"}
            assert {r.uri for r in (await client.list_resources()).resources} == {
                "toolmesh://notes/notes://today"
            }
            templates = (await client.list_resource_templates()).resource_templates
            assert {t.uri_template for t in templates} == {"toolmesh://notes/notes://day/{day}"}
            summary = await client.get_prompt("notes__summarize", {"topic": "milk"})
            assert message_text(summary) == "Summarize my notes on milk."
            day = await client.read_resource("toolmesh://notes/notes://day/friday")
            assert contents_text(day) == [("toolmesh://notes/notes://day/friday", "notes of friday")]
            with pytest.raises(MCPError, match="unknown prompt 'calc__explain'") as refused:
                await client.get_prompt("calc__explain", {"operation": "add"})
            assert refused.value.code == types.INVALID_PARAMS
            refusals = []
            for uri in ("toolmesh://calculator/calc://square/9", "toolmesh://nobody/calc://square/9"):
                with pytest.raises(MCPError) as raised:
                    await client.read_resource(uri)
                refusals.append(raised.value.error.message.replace(uri, "URI"))
            assert refusals[0] == refusals[1], "a refused read is not told apart from a missing one"
            assert refusals[0] == "unknown resource 'URI'; list the resources to see what is offered"


@pytest.mark.parametrize("mode", MODES)
async def test_a_remote_that_is_down_fails_only_its_own_reads(
    start_gateway: StartGateway, issuer: Issuer, mode: str
) -> None:
    async with serve_remote() as (url, _):
        gateway = await start(start_gateway, issuer, url)
    alice = issuer.token(sub="alice", groups=["finance"])
    async with client_as(gateway, alice, mode) as client:
        assert len((await client.list_resources()).resources) == 2, "still listed, as its tools are"
        with pytest.raises(MCPError, match="integration calculator: ") as raised:
            await client.read_resource("toolmesh://calculator/calc://constants/pi")
        assert raised.value.code == types.INTERNAL_ERROR
        with pytest.raises(MCPError, match="integration calculator: "):
            await client.get_prompt("calc__explain", {"operation": "add"})
        today = await client.read_resource("toolmesh://notes/notes://today")
        assert contents_text(today) == [("toolmesh://notes/notes://today", "buy milk")]


@pytest.mark.parametrize("mode", MODES)
async def test_a_gateway_without_federated_prompts_or_resources_does_not_advertise_them(
    start_gateway: StartGateway, mode: str
) -> None:
    gateway = await start_gateway()
    async with Client(gateway.mcp_url, mode=mode) as client:  # type: ignore[arg-type]
        assert client.server_capabilities.tools is not None
        assert client.server_capabilities.prompts is None
        assert client.server_capabilities.resources is None
