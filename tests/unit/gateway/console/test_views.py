"""What the console's pages show, built from a catalogue by hand: every viewer sees only what they
may call; conditions, states, costs and the playground's form are as documented."""

from __future__ import annotations

import json
from functools import partial

from toolmesh.api.integration import Access
from toolmesh.gateway.catalog import GatewayCatalog, ToolRecord
from toolmesh.gateway.console import views
from toolmesh.gateway.index.hybrid import Scores
from toolmesh.gateway.metrics import CategoryState
from toolmesh.gateway.recent import Recent, Wake
from toolmesh.gateway.router import compact

SCHEMA = {
    "type": "object",
    "properties": {"projectId": {"type": "string", "description": "Projekt-Kennung ü"}},
}


def record(name: str, integration: str, category: str = "pm", **extra: object) -> ToolRecord:
    return ToolRecord(name, f"Does {name}.", SCHEMA, category, integration, **extra)  # type: ignore[arg-type]


def catalog() -> GatewayCatalog:
    tools = [record("tasks__a", "tasks"), record("tasks__b", "tasks", title="B"), record("pay__x", "payroll")]
    return GatewayCatalog(
        {t.name: t for t in tools},
        {"pm": "Project management", "crm": "Customers"},
        {"calculator": "spec.mcp.url: cannot list the tools", "broken": "invalid object"},
        access={"payroll": Access(groups=["finance"])},
        digest_mismatches={"tasks"},
        integration_categories={"tasks": "pm", "payroll": "pm", "calculator": "pm"},
    )


def may_use(cat: GatewayCatalog, groups: frozenset[str] = frozenset()) -> views.MayUse:
    return lambda integration: cat.allows(integration, groups, frozenset())


def test_the_catalogue_groups_integrations_by_category_and_hides_those_the_viewer_may_not_use() -> None:
    cat = catalog()
    shown = views.catalogue(cat, {}, may_use(cat))
    assert [(c.name, [i.name for i in c.integrations]) for c in shown] == [
        (views.UNPLACED, ["broken"]),
        ("crm", []),
        ("pm", ["calculator", "tasks"]),
    ]
    pm = {i.name: i for i in shown[2].integrations}
    assert pm["calculator"].failing
    assert pm["calculator"].tools == 0
    assert not pm["tasks"].failing
    assert pm["tasks"].tools == 2
    assert [c.label for c in pm["tasks"].conditions] == ["DigestMismatch"]
    finance = views.catalogue(cat, {}, may_use(cat, frozenset({"finance"})))
    assert [i.name for i in finance[2].integrations] == ["calculator", "payroll", "tasks"]
    restricted = next(i for i in finance[2].integrations if i.name == "payroll")
    assert restricted.conditions == [views.Condition("info", "Restricted", "groups: finance")]


def test_an_integration_of_a_category_that_is_down_is_failing() -> None:
    cat = catalog()
    shown = views.catalogue(cat, {"pm": "the category server exited"}, may_use(cat))
    pm = shown[2]
    assert pm.problem == "the category server exited"
    tasks = next(i for i in pm.integrations if i.name == "tasks")
    assert tasks.failing
    assert tasks.conditions[0] == views.Condition("failing", "Category down", "the category server exited")


def test_definition_tokens_count_the_definition_as_listed() -> None:
    for tool in catalog().tools.values():
        listed = json.dumps(tool.definition(), ensure_ascii=False, separators=(",", ":"))
        assert views.definition_tokens(tool) * 4 <= len(listed.encode()) + 3
        assert views.definition_tokens(tool) >= len(listed) // 4


def test_tools_are_paged_by_name_with_their_schemas() -> None:
    page, total = views.tools_of(catalog(), "tasks", 1, 1)
    assert total == 2
    assert [(t.name, t.title) for t in page] == [("tasks__b", "B")]
    assert json.loads(page[0].schema) == SCHEMA


def test_category_rows_say_down_before_awake_and_keep_unknown_replicas_unknown() -> None:
    wake = Wake(at=0.0, seconds=1.5, ok=True)
    rows = views.category_rows(
        {"pm": CategoryState(awake=True, down=False), "ai": CategoryState(awake=True, down=True)},
        {"pm": 2},
        {"ai": "did not wake"},
        {"pm": wake},
        {"pm": "Project management"},
        ["pm", "ai", "crm"],
    )
    assert [(r.name, r.state, r.replicas, r.last_wake, r.problem) for r in rows] == [
        ("ai", "down", None, None, "did not wake"),
        ("crm", "asleep", None, None, None),
        ("pm", "awake", 2, wake, None),
    ]


def test_a_category_is_visible_when_it_holds_an_integration_the_viewer_may_use_or_none() -> None:
    cat = catalog()
    cat.integration_categories = {"payroll": "hr"}
    cat.tools = {"pay__x": record("pay__x", "payroll", category="hr")}
    assert views.visible_categories(cat, ["hr", "crm"], may_use(cat)) == {"crm"}
    assert views.visible_categories(cat, ["hr", "crm"], may_use(cat, frozenset({"finance"}))) == {"hr", "crm"}


def test_recent_calls_are_kept_newest_first_bounded_and_shown_only_for_usable_integrations() -> None:
    ticks = iter(range(100))
    recent = Recent(limit=3, clock=lambda: float(next(ticks)))
    for n in range(4):
        recent.called(f"tasks__{n}", "pm", "tasks", 0.01, "ok")
    recent.called("pay__x", "pm", "payroll", 0.02, "error")
    assert [c.tool for c in recent.calls()] == ["pay__x", "tasks__3", "tasks__2"]
    cat = catalog()
    assert [c.tool for c in views.calls(recent.calls(), may_use(cat))] == ["tasks__3", "tasks__2"]
    off = Recent(limit=0)
    off.called("tasks__a", "pm", "tasks", 0.01, "ok")
    assert off.calls() == []
    recent.woke("pm", 2.0, ok=False)
    assert recent.wakes["pm"] == Wake(at=5.0, seconds=2.0, ok=False)


def test_search_rows_rank_from_one_and_cost_lines_against_everything_the_viewer_may_call() -> None:
    cat = catalog()
    found = [(cat.tools["tasks__b"], Scores(1.0, 0.5, 2.0)), (cat.tools["tasks__a"], None)]
    rows = views.search_rows(found)
    assert [(r.rank, r.tool, r.scores) for r in rows] == [
        (1, "tasks__b", Scores(1.0, 0.5, 2.0)),
        (2, "tasks__a", None),
    ]
    assert rows[0].line_tokens == len(compact(cat.tools["tasks__b"])) // 4
    cost = views.search_cost(rows, cat, may_use(cat))
    assert cost.tools == 2  # payroll's tool is not the viewer's to call
    assert cost.everything == sum(views.definition_tokens(cat.tools[n]) for n in ("tasks__a", "tasks__b"))
    assert cost.ratio == cost.everything / cost.lines


def test_the_playground_form_names_the_field_that_is_wrong() -> None:
    form = partial(views.search_form, default_limit=8, categories=["pm"])
    assert form({"query": " add a task ", "limit": "", "category": "pm"}) == views.SearchForm(
        "add a task", 8, "pm"
    )
    assert form({"query": "x", "limit": "51"}).error == "limit: a whole number from 1 to 50"
    assert form({"query": "x", "limit": "-1"}).error == "limit: a whole number from 1 to 50"
    assert form({"query": "x", "category": "hr"}).error == "category: no category is named 'hr'"
    assert form({"query": "  "}).error == "query: type what an agent would ask for"
    assert form({"query": "y" * 2001}).error == "query: at most 2,000 characters"


def test_times_are_shown_in_utc_to_the_second() -> None:
    assert views.when(0.0) == "1970-01-01 00:00:00 UTC"
