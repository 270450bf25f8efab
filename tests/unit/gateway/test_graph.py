"""The tool graph (toolmesh.gateway.index.graph) on the demo Tasks API and GitHub-shaped names:
tools on the same resource are related, closest first; other integrations and resources are not."""

from __future__ import annotations

from pathlib import Path

from toolmesh.api import MCPIntegration
from toolmesh.gateway.catalog import GatewayCatalog, ToolRecord, records
from toolmesh.gateway.index.graph import (
    identifier_arguments,
    prerequisites,
    produced_keys,
    related,
    resource_words,
    with_prerequisites,
)
from toolmesh.gateway.index.hybrid import Weights
from toolmesh.gateway.router import Router

DEMO = Path(__file__).resolve().parents[3] / "examples" / "catalog" / "specs" / "tasks.openapi.yaml"


def demo_records(name: str = "tasks") -> list[ToolRecord]:
    obj = MCPIntegration.model_validate({
        "apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration", "metadata": {"name": name},
        "spec": {"category": "pm", "openapi": {"spec": {"url": "https://example.com/openapi.yaml"}}},
    })  # fmt: skip
    return records(obj, name, DEMO.read_bytes())


def test_identifier_arguments_are_the_required_ids_normalised() -> None:
    schema = {
        "required": ["project_id", "taskId", "body", "limit", "owner"],
        "properties": {"project_id": {"type": "string"}, "taskId": {"type": "integer"}, "limit": {"type": "integer"},
                       "owner": {"type": "string"}, "body": {"type": "object"}},
    }  # fmt: skip
    assert identifier_arguments(schema) == {"projectid", "taskid", "owner"}
    assert identifier_arguments({"properties": {"taskId": {"type": "integer"}}}) == frozenset()  # optional


def test_resource_words_drop_the_verbs_and_plurals() -> None:
    assert resource_words("tasks__listTasks") == {"task"}
    assert resource_words("github__repos_get_commit_comment") == {"repo", "commit", "comment"}
    assert resource_words("crm__getHTTPStatus") == {"http", "statu"}  # naive singular, the same on both sides


def test_a_task_leads_to_the_other_operations_on_tasks_first() -> None:
    tools = demo_records()
    by_name = {t.name: t for t in tools}
    near = related(by_name["tasks__getTask"], tools)
    assert set(near[:3]) == {"tasks__updateTask", "tasks__deleteTask", "tasks__attachFile"}  # same ids
    assert "tasks__listTasks" in near
    assert "tasks__getTask" not in near
    assert "tasks__listProjects" not in near  # another resource, no shared id
    assert related(by_name["tasks__whoAmI"], tools) == []


def test_other_integrations_are_never_related() -> None:
    mine, theirs = demo_records("tasks"), demo_records("other")
    get = next(t for t in mine if t.name == "tasks__getTask")
    assert all(name.startswith("tasks__") for name in related(get, mine + theirs))


def test_a_tool_whose_response_fills_anothers_identifiers_leads_to_it() -> None:
    assert produced_keys(frozenset({"id", "projectid"}), frozenset({"task"})) == {"taskid", "projectid"}
    schema = {"type": "object", "properties": {"projectId": {"type": "string"}}, "required": ["projectId"]}
    tools = [
        ToolRecord(
            "p__listProjects", "List projects.", {"type": "object"}, "pm", "p", returns=("id", "name")
        ),
        ToolRecord("p__getProject", "Get a project.", schema, "pm", "p"),
        ToolRecord("p__listProjectHooks", "List hooks.", schema, "pm", "p"),
        ToolRecord("p__listProjectAlerts", "List alerts.", {"type": "object"}, "pm", "p"),
    ]
    near = related(tools[0], tools)
    assert set(near[:2]) == {"p__getProject", "p__listProjectHooks"}  # they take the id it returns
    assert related(tools[0], tools[:1] + tools[3:]) == ["p__listProjectAlerts"]  # words only, weaker
    unlinked = ToolRecord("p__listProjects", "List projects.", {"type": "object"}, "pm", "p")
    assert related(unlinked, tools)[:2] == ["p__getProject", "p__listProjectAlerts"]  # by name words alone


def flights_records(integration: str = "flights") -> list[ToolRecord]:
    ids = {"type": "string"}
    return [
        ToolRecord("searchAirport", "Find an airport", {"properties": {"query": ids}, "required": ["query"]},
                   "travel", integration, returns=["skyId", "entityId", "presentation"]),
        ToolRecord("searchFlights", "Search flights",
                   {"properties": {"originSkyId": ids, "destinationSkyId": ids, "date": ids},
                    "required": ["originSkyId", "destinationSkyId", "date"]},
                   "travel", integration, returns=["itineraries"]),
        ToolRecord("getConfig", "Markets and currencies", {"properties": {}}, "travel", integration,
                   returns=["id", "market"]),
    ]  # fmt: skip


def test_a_tool_whose_response_fills_the_arguments_is_a_prerequisite() -> None:
    tools = flights_records()
    search_flights = tools[1]
    assert prerequisites(search_flights, tools) == ["searchAirport"], "skyId fills originSkyId"
    assert prerequisites(tools[0], tools) == [], "nothing it needs is returned by another"
    assert prerequisites(search_flights, flights_records("other")) == [], "other integrations never"


def test_prerequisites_move_up_beside_the_tools_that_need_them() -> None:
    first = {"b": ["x"], "c": ["a", "y"]}
    assert with_prerequisites(["a", "b", "c", "x"], lambda n: first.get(n, []), depth=3) == [
        "a", "b", "x", "c", "y",
    ]  # fmt: skip
    assert with_prerequisites(["a", "b", "c"], lambda n: first.get(n, []), depth=1) == ["a", "b", "c"]


def test_a_search_shows_a_found_tools_prerequisite_beside_it_unless_the_caller_may_not_call_it() -> None:
    tools = flights_records()
    catalog = GatewayCatalog({t.name: t for t in tools}, {}, {})
    router = Router(catalog, None)
    found = [r.name for r in router.search("search flights by date", limit=2, budget=1500)]
    assert found == ["searchFlights", "searchAirport"]
    hidden = router.search("search flights by date", limit=2, budget=1500,
                           allowed=lambda r: r.name != "searchAirport")  # fmt: skip
    assert "searchAirport" not in [r.name for r in hidden]
    plain = Router(catalog, None, Weights(prerequisites=0))
    assert [r.name for r in plain.search("search flights by date", limit=1, budget=1500)] == ["searchFlights"]
