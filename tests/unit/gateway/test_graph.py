"""The tool graph (toolmesh.gateway.index.graph) on the demo Tasks API and GitHub-shaped names:
tools on the same resource are related, closest first; other integrations and resources are not."""

from __future__ import annotations

from pathlib import Path

from toolmesh.api import MCPIntegration
from toolmesh.gateway.catalog import ToolRecord, records
from toolmesh.gateway.index.graph import identifier_arguments, produced_keys, related, resource_words

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
