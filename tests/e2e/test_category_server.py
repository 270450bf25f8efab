"""SDK client → category server → stub upstream, in both protocol generations.

Each test asserts on the exact HTTP request the upstream received and on the MCP result.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable

import aiohttp
import pytest
from mcp import Client

from tests import leaks
from tests.conftest import DEMO_SPEC, StartCategory
from tests.e2e.stub_upstream import Reply, Seen, StubUpstream

pytestmark = pytest.mark.e2e
Connect = Callable[[str], Client]


def tasks_integration(base_url: str, auth: str = "") -> str:
    auth = (
        auth
        or """
      auth:
        type: apiKey
        apiKey: {in: header, name: X-API-Key}
        secretRef: {name: tasks-credentials}"""
    )
    return f"""
    apiVersion: toolmesh.dev/v1alpha1
    kind: MCPIntegration
    metadata: {{name: tasks}}
    spec:
      category: pm
      timeoutSeconds: 1
      openapi:
        spec: {{configMapKeyRef: {{name: tasks-openapi, key: tasks.openapi.yaml}}}}
        baseUrl: {base_url}/v1
    {auth}
    """


SECRET = """
apiVersion: v1
kind: Secret
metadata: {name: tasks-credentials}
stringData: {apiKey: key-123456, token: tok-abcdef, username: ada, password: s3cr3t-pw, clientId: app, clientSecret: app-secret}
"""
leaks.secret("key-123456", "tok-abcdef", "s3cr3t-pw", "app-secret")


async def tasks_server(
    start: StartCategory, upstream: StubUpstream, auth: str = "", **settings: object
) -> str:
    server = await start(
        {
            "integrations.yaml": tasks_integration(upstream.url, auth),
            "secrets.yaml": SECRET,
            "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
        },
        **settings,
    )
    return server.mcp_url


def text(result: object) -> str:
    content = result.content  # type: ignore[attr-defined]
    return "".join(c.text for c in content)


async def test_tools_are_listed_with_their_schemas(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    async with connect(await tasks_server(start_category, upstream)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert sorted(tools) == sorted(f"tasks__{n}" for n in (
            "listProjects", "listTasks", "createTask", "getTask", "deleteTask", "updateTask", "attachFile", "whoAmI",
        ))  # fmt: skip
        create = tools["tasks__createTask"]
        assert create.input_schema["required"] == ["projectId", "body"]
        assert create.annotations is not None
        assert create.annotations.read_only_hint is False
        assert tools["tasks__getTask"].annotations.read_only_hint is True  # type: ignore[union-attr]


async def test_path_query_header_and_api_key_reach_the_upstream(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    upstream.on("GET", "/v1/projects/apollo/tasks", Reply(body=[{"id": 1, "title": "Ship"}]))
    async with connect(await tasks_server(start_category, upstream)) as client:
        result = await client.call_tool("tasks__listTasks", {
            "projectId": "apollo", "limit": 5, "status": ["todo", "doing"], "filter": {"assignee": "ada"}, "X-Request-Id": "r-1",
        })  # fmt: skip
        assert result.is_error is False
        assert json.loads(text(result)) == [{"id": 1, "title": "Ship"}]
        seen = upstream.last()
        assert (seen.method, seen.path) == ("GET", "/v1/projects/apollo/tasks")
        assert seen.query == "limit=5&status=todo,doing&filter%5Bassignee%5D=ada"
        assert seen.headers["X-Request-Id"] == "r-1"
        assert seen.headers["X-API-Key"] == "key-123456"


async def test_json_form_multipart_and_cookie_requests(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    async with connect(await tasks_server(start_category, upstream)) as client:
        await client.call_tool(
            "tasks__createTask", {"projectId": "p", "body": {"title": "Ship", "assignee": None}}
        )
        seen = upstream.last()
        assert (seen.method, seen.content_type) == ("POST", "application/json")
        assert json.loads(seen.body) == {"title": "Ship", "assignee": None}

        await client.call_tool(
            "tasks__updateTask", {"projectId": "p", "taskId": 7, "body": {"title": "a b", "status": "done"}}
        )
        seen = upstream.last()
        assert (seen.method, seen.path, seen.content_type) == (
            "PATCH",
            "/v1/projects/p/tasks/7",
            "application/x-www-form-urlencoded",
        )
        assert seen.body == b"title=a%20b&status=done"

        payload = base64.b64encode(b"\x89PNG\r\n").decode()
        await client.call_tool(
            "tasks__attachFile", {"projectId": "p", "taskId": 7, "body": {"file": payload, "comment": "logo"}}
        )
        seen = upstream.last()
        assert seen.content_type.startswith("multipart/form-data; boundary=")
        assert (
            b'name="file"; filename="file"\r\nContent-Type: application/octet-stream\r\n\r\n\x89PNG\r\n\r\n'
            in seen.body
        )
        assert b'name="comment"' in seen.body

        await client.call_tool("tasks__whoAmI", {"session": "abc"})
        assert upstream.last().headers["Cookie"] == "session=abc"


@pytest.mark.parametrize(
    ("auth", "check"),
    [
        ("auth: {type: bearer, secretRef: {name: tasks-credentials}}",
         lambda s: s.headers["Authorization"] == "Bearer tok-abcdef"),
        ("auth: {type: basic, secretRef: {name: tasks-credentials}}",
         lambda s: s.headers["Authorization"] == "Basic " + base64.b64encode(b"ada:s3cr3t-pw").decode()),
        ("auth: {type: apiKey, apiKey: {in: query, name: key}, secretRef: {name: tasks-credentials}}",
         lambda s: s.query.endswith("key=key-123456")),
        ("auth: {type: apiKey, apiKey: {in: cookie, name: key}, secretRef: {name: tasks-credentials}}",
         lambda s: s.headers["Cookie"] == "key=key-123456"),
    ],
    ids=["bearer", "basic", "api-key-query", "api-key-cookie"],
)  # fmt: skip
async def test_each_auth_scheme_is_injected(
    start_category: StartCategory,
    upstream: StubUpstream,
    connect: Connect,
    auth: str,
    check: Callable[[Seen], bool],
) -> None:
    async with connect(await tasks_server(start_category, upstream, auth="  " + auth)) as client:
        result = await client.call_tool("tasks__listProjects", {})
        assert result.is_error is False
        assert check(upstream.last())


async def test_oauth2_client_credentials_token_is_fetched_once_and_cached(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    upstream.on(
        "POST",
        "/oauth/token",
        Reply(body={"access_token": "at-987654", "token_type": "bearer", "expires_in": 3600}),
    )
    auth = f"""  auth:
        type: oauth2ClientCredentials
        oauth2: {{tokenUrl: "{upstream.url}/oauth/token", scopes: [tasks.read, tasks.write]}}
        secretRef: {{name: tasks-credentials}}"""
    async with connect(await tasks_server(start_category, upstream, auth=auth)) as client:
        for _ in range(2):
            assert (await client.call_tool("tasks__listProjects", {})).is_error is False
        token_requests = [s for s in upstream.seen if s.path == "/oauth/token"]
        assert len(token_requests) == 1
        assert token_requests[0].body == b"grant_type=client_credentials&scope=tasks.read%20tasks.write"
        assert (
            token_requests[0].headers["Authorization"]
            == "Basic " + base64.b64encode(b"app:app-secret").decode()
        )
        assert upstream.last().headers["Authorization"] == "Bearer at-987654"


async def test_upstream_errors_are_tool_errors_with_the_status_and_message(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    upstream.on("GET", "/v1/projects/p/tasks/404", Reply(status=404, body={"message": "no such task"}))
    upstream.on(
        "GET",
        "/v1/projects/p/tasks/500",
        Reply(status=500, body="database exploded", content_type="text/plain"),
    )
    async with connect(await tasks_server(start_category, upstream)) as client:
        missing = await client.call_tool("tasks__getTask", {"projectId": "p", "taskId": 404})
        assert missing.is_error is True
        assert text(missing) == (
            f"The upstream answered HTTP 404 Not Found to GET {upstream.url}/v1/projects/p/tasks/404.\n"
            '{"message":"no such task"}'
        )
        broken = await client.call_tool("tasks__getTask", {"projectId": "p", "taskId": 500})
        assert broken.is_error is True
        assert "HTTP 500 Internal Server Error" in text(broken)
        assert "database exploded" in text(broken)


async def test_timeouts_refused_connections_and_bad_arguments_fail_only_their_call(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    upstream.on("GET", "/v1/projects/p/tasks/9", Reply(delay=3))
    async with connect(await tasks_server(start_category, upstream)) as client:
        slow = await client.call_tool("tasks__getTask", {"projectId": "p", "taskId": 9})
        assert slow.is_error is True
        assert text(slow) == f"tasks: {upstream.url} did not answer within 1 s (spec.timeoutSeconds)"

        bad = await client.call_tool("tasks__getTask", {"projectId": "P!", "taskId": 0})
        assert bad.is_error is True
        assert text(bad).startswith(
            "invalid arguments for tool tasks__getTask: projectId: 'P!' does not match"
        )
        assert "taskId: 0 is less than the minimum of 1" in text(bad)

        unknown = await client.call_tool("tasks__nope", {})
        assert unknown.is_error is True
        assert "unknown tool 'tasks__nope'" in text(unknown)

        ok = await client.call_tool("tasks__listProjects", {})
        assert ok.is_error is False, "the server still answers after the failures"


async def test_connection_refused_is_a_tool_error(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    port = upstream.server.port  # type: ignore[union-attr]
    await upstream.close()
    server = await start_category({
        "integrations.yaml": tasks_integration(f"http://127.0.0.1:{port}"),
        "secrets.yaml": SECRET,
        "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
    })  # fmt: skip
    async with connect(server.mcp_url) as client:
        result = await client.call_tool("tasks__listProjects", {})
        assert result.is_error is True
        assert text(result).startswith(f"tasks: cannot connect to http://127.0.0.1:{port}")


async def test_an_upstream_that_resets_or_loops_redirects_fails_only_its_call(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.transport.abort()  # a reset mid-request, as a crashing upstream or a proxy does

    resetter = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = resetter.sockets[0].getsockname()[1]
    upstream.on("GET", "/v1/projects", Reply(status=302, body="", headers={"Location": "/v1/projects"}))
    resetting = tasks_integration(f"http://127.0.0.1:{port}").replace("{name: tasks}", "{name: resetting}")
    try:
        server = await start_category({
            "integrations.yaml": tasks_integration(upstream.url),
            "resetting.yaml": resetting,
            "secrets.yaml": SECRET,
            "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
        })  # fmt: skip
        async with connect(server.mcp_url) as client:
            looped = await client.call_tool("tasks__listProjects", {})
            assert looped.is_error is True
            assert text(looped) == f"tasks: {upstream.url} redirected more than 5 times"
            dropped = await client.call_tool("resetting__listProjects", {})
            assert dropped.is_error is True
            assert text(dropped).startswith(f"resetting: request to http://127.0.0.1:{port} failed: ")
            ok = await client.call_tool("tasks__getTask", {"projectId": "p", "taskId": 1})
            assert ok.is_error is False, "the server still answers after the faults"
    finally:
        resetter.close()
        await resetter.wait_closed()


async def test_large_and_binary_responses_are_cut_or_summarised(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    upstream.on("GET", "/v1/projects", Reply(body="x" * 5000, content_type="text/plain"))
    upstream.on("GET", "/v1/me", Reply(body=b"\x89PNG" + bytes(3000), content_type="image/png"))
    async with connect(await tasks_server(start_category, upstream, max_response_bytes=1024)) as client:
        large = await client.call_tool("tasks__listProjects", {})
        assert large.is_error is False
        assert (
            text(large)
            == "x" * 1024
            + "\n\n[truncated: the response is larger than 1024 bytes; only the first 1024 are shown]"
        )
        binary = await client.call_tool("tasks__whoAmI", {})
        assert text(binary).startswith("(binary response: image/png, at least 1024 bytes, sha256 ")


async def test_redirects_are_followed_on_the_same_origin_only(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    upstream.on("GET", "/v1/projects", Reply(status=302, body="", headers={"Location": "/v1/projects-moved"}))
    upstream.on("GET", "/v1/projects-moved", Reply(body={"moved": True}))
    upstream.on(
        "GET", "/v1/me", Reply(status=302, body="", headers={"Location": "http://evil.example:1/steal"})
    )
    async with connect(await tasks_server(start_category, upstream)) as client:
        moved = await client.call_tool("tasks__listProjects", {})
        assert json.loads(text(moved)) == {"moved": True}
        assert upstream.last().headers["X-API-Key"] == "key-123456"
        away = await client.call_tool("tasks__whoAmI", {})
        assert away.is_error is True
        assert "redirected to another host (http://evil.example:1); not followed" in text(away)
        assert all(s.path != "/steal" for s in upstream.seen)


async def test_a_query_string_api_key_is_sent_again_after_a_same_origin_redirect(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    auth = "  auth: {type: apiKey, apiKey: {in: query, name: key}, secretRef: {name: tasks-credentials}}"
    upstream.on("GET", "/v1/projects", Reply(status=302, body="", headers={"Location": "/v1/moved?page=2"}))
    upstream.on("GET", "/v1/moved", Reply(body={"moved": True}))
    upstream.on("GET", "/v1/me", Reply(status=301, body="", headers={"Location": "/v1/me2?key=given"}))
    async with connect(await tasks_server(start_category, upstream, auth=auth)) as client:
        moved = await client.call_tool("tasks__listProjects", {})
        assert json.loads(text(moved)) == {"moved": True}
        assert upstream.last().query == "page=2&key=key-123456"
        await client.call_tool("tasks__whoAmI", {})
        assert upstream.last().query == "key=given", "a key the redirect names itself is left alone"


async def test_a_broken_integration_does_not_stop_the_others(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    server = await start_category({
        "integrations.yaml": tasks_integration(upstream.url),
        "secrets.yaml": SECRET,
        "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
        "broken.yaml": """
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPIntegration
            metadata: {name: broken}
            spec:
              category: pm
              openapi: {spec: {inline: "openapi: [this is not, a spec"}}
            ---
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPIntegration
            metadata: {name: missing}
            spec:
              category: pm
              openapi: {spec: {configMapKeyRef: {name: nowhere, key: spec.json}}}
            ---
            apiVersion: toolmesh.dev/v1alpha1
            kind: MCPIntegration
            metadata: {name: invalid}
            spec: {category: pm}
        """,
    })  # fmt: skip
    async with connect(server.mcp_url) as client:
        assert len((await client.list_tools()).tools) == 8
        async with aiohttp.ClientSession() as http, http.get(f"{server.url}/readyz") as response:
            assert response.status == 200
            status = await response.json()
        states = {s["name"]: s for s in status["integrations"]}
        assert states["tasks"]["ready"] is True
        assert states["tasks"]["tools"] == 8
        assert states["broken"]["ready"] is False
        assert states["broken"]["message"].startswith(
            "spec.openapi.spec: integration broken: invalid YAML at line 1"
        )
        assert (
            states["missing"]["message"]
            == "spec.openapi.spec.configMapKeyRef: ConfigMap 'nowhere' not found in the catalog folder"
        )
        assert states["invalid"]["message"].startswith(
            "broken.yaml: spec: Value error, exactly one of spec.openapi, spec.mcp or spec.stdio"
        )
        assert (status["ready"], status["failed"], status["tools"]) == (1, 3, 8)


async def test_metrics_count_calls_per_integration_tool_and_outcome(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    server_url = await tasks_server(start_category, upstream)
    async with connect(server_url) as client:
        await client.call_tool("tasks__listProjects", {})
        await client.call_tool("tasks__getTask", {"projectId": "p"})
        async with (
            aiohttp.ClientSession() as http,
            http.get(server_url.replace("/mcp", "/metrics")) as response,
        ):
            body = await response.text()
        assert (
            'toolmesh_category_tool_calls_total{integration="tasks",outcome="ok",tool="tasks__listProjects"} 1.0'
            in body
        )
        assert (
            'toolmesh_category_tool_calls_total{integration="tasks",outcome="invalid_arguments",tool="tasks__getTask"} 1.0'
            in body
        )
        assert 'toolmesh_category_integration_ready{integration="tasks"} 1.0' in body
        assert 'toolmesh_category_spec_digest_mismatch{integration="tasks"} 0.0' in body  # nothing recorded
        assert "key-123456" not in body


async def test_the_rate_limit_holds_back_calls_beyond_it(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    auth = "  rateLimit: {requestsPerSecond: 0.1, burst: 1}"
    async with connect(await tasks_server(start_category, upstream, auth=auth)) as client:
        first = await client.call_tool("tasks__listProjects", {})
        second = await client.call_tool("tasks__listProjects", {})
    assert first.is_error is False
    assert second.is_error is True
    assert text(second).startswith(
        "tasks: rate limit of 0.1 requests/s (spec.rateLimit) would delay this call by "
    )
    assert len(upstream.seen) == 1


async def test_a_spec_compiled_to_another_digest_than_its_status_is_served_and_reported(
    start_category: StartCategory, upstream: StubUpstream, connect: Connect
) -> None:
    recorded = "sha256:" + "0" * 64  # what another compiler version made of the document
    mounted = {  # as the operator mounts an integration: its object, with the status it recorded
        "apiVersion": "toolmesh.dev/v1alpha1",
        "kind": "MCPIntegration",
        "metadata": {"name": "tasks", "namespace": "default"},
        "spec": {
            "category": "pm",
            "openapi": {
                "spec": {"configMapKeyRef": {"name": "tasks-openapi", "key": "tasks.openapi.yaml"}},
                "baseUrl": f"{upstream.url}/v1",
            },
        },
        "status": {"specDigest": recorded},
    }
    server = await start_category({
        "mcp-pm-catalog/tasks.json": json.dumps(mounted, indent=1),
        "tasks-openapi/tasks.openapi.yaml": DEMO_SPEC.read_text(),
    })  # fmt: skip
    upstream.on("GET", "/v1/projects", Reply(body=[]))
    async with connect(server.mcp_url) as client:
        assert len((await client.list_tools()).tools) == 8  # still served
        assert (await client.call_tool("tasks__listProjects", {})).is_error is False
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/readyz") as response:
            assert response.status == 200  # a drifted digest does not make the pod unready
            status = await response.json()
        async with http.get(f"{server.url}/metrics") as response:
            metrics = await response.text()
    state = status["integrations"][0]
    assert (state["ready"], state["expectedDigest"]) == (True, recorded)
    assert state["digest"] != recorded
    assert status["problems"]["tasks"].startswith(
        f"compiled to {state['digest']}, but status.specDigest is {recorded}: "
    )
    assert 'toolmesh_category_spec_digest_mismatch{integration="tasks"} 1.0' in metrics
