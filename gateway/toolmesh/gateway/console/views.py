"""What each console page shows, built from the gateway's state: pure functions, no I/O.

Each takes ``may_use(integration)``, whether the viewer may call that integration's tools (its
spec.access against their token, and their profiles), and where tools are shown one by one
``permits(tool)``: a viewer never sees a tool, an integration, a call or a problem of an
integration they could not call. Tokens are counted as the router and the benchmark count
them (characters / 4).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from toolmesh.gateway.catalog import GatewayCatalog, ToolRecord
from toolmesh.gateway.index.hybrid import Scores
from toolmesh.gateway.metrics import CategoryState
from toolmesh.gateway.recent import Call, Wake
from toolmesh.gateway.router import line_tokens

MayUse = Callable[[str], bool]
#: Whether the viewer may call a tool (spec.access and their profiles): the service's ``permits()``.
Permits = Callable[[ToolRecord], bool]


def _every(record: ToolRecord) -> bool:
    return True


#: Where an integration whose object names no category (it did not parse) is listed.
UNPLACED = "(no category)"


@dataclass(frozen=True)
class Condition:
    level: str  # failing | warning | info
    label: str
    message: str


@dataclass(frozen=True)
class IntegrationView:
    name: str
    tools: int
    conditions: list[Condition]

    @property
    def failing(self) -> bool:
        return any(c.level == "failing" for c in self.conditions)


@dataclass(frozen=True)
class CategoryView:
    name: str
    description: str
    problem: str | None
    integrations: list[IntegrationView]


@dataclass(frozen=True)
class ToolView:
    name: str
    title: str | None
    description: str
    schema: str  # the input schema, indented JSON
    tokens: int  # what its definition costs listed (tools/list, describe_tools)


def definition_tokens(record: ToolRecord) -> int:
    """What the tool costs listed with its schema, as a direct tools/list or describe_tools shows it
    (counted without parsing the schema: a catalogue's schemas are most of its memory)."""
    rest = {"name": record.name, "description": record.description}
    if record.title:
        rest["title"] = record.title
    if record.annotations:
        rest["annotations"] = json.dumps(record.annotations, ensure_ascii=False)
    chars = len(json.dumps(rest, ensure_ascii=False, separators=(",", ":")))
    return (chars + len(',"inputSchema":') + record.schema_chars) // 4


def integration_conditions(
    catalog: GatewayCatalog, integration: str, categories_down: Mapping[str, str]
) -> list[Condition]:
    """What the gateway knows of ``integration``: failing first, then warnings, then facts."""
    found: list[Condition] = []
    if (problem := catalog.problems.get(integration)) is not None:
        found.append(Condition("failing", "Not serving", problem))
    category = catalog.integration_categories.get(integration, "")
    if category in categories_down:
        found.append(Condition("failing", "Category down", categories_down[category]))
    if integration in catalog.digest_mismatches:
        found.append(
            Condition(
                "warning",
                "DigestMismatch",
                "the gateway compiled its spec to another digest than the operator did: "
                "they run different compiler versions",
            )
        )
    if (auth := catalog.auth.get(integration)) is not None:
        found.append(
            Condition("info", "Per-caller credentials", f"each call carries the caller's own ({auth.type})")
        )
    if (access := catalog.access.get(integration)) is not None:
        who = [f"groups: {', '.join(access.groups)}"] if access.groups else []
        who += [f"scopes: {', '.join(access.scopes)}"] if access.scopes else []
        found.append(Condition("info", "Restricted", "; ".join(who) or "spec.access is set"))
    return found


def catalogue(
    catalog: GatewayCatalog, categories_down: Mapping[str, str], may_use: MayUse, permits: Permits = _every
) -> list[CategoryView]:
    """Every category with the integrations the viewer may use, each with its tool count (of the
    tools the viewer may call) and conditions."""
    counts: dict[str, int] = {}
    where = dict(catalog.integration_categories)
    for record in catalog.tools.values():
        if permits(record):
            counts[record.integration] = counts.get(record.integration, 0) + 1
        where.setdefault(record.integration, record.category)
    names = (set(where) | set(counts) | set(catalog.problems)) - {""}
    grouped: dict[str, list[IntegrationView]] = {c: [] for c in catalog.category_descriptions}
    for name in sorted(n for n in names if may_use(n)):
        view = IntegrationView(
            name, counts.get(name, 0), integration_conditions(catalog, name, categories_down)
        )
        grouped.setdefault(where.get(name, UNPLACED), []).append(view)
    return [
        CategoryView(c, catalog.category_descriptions.get(c, ""), categories_down.get(c), grouped[c])
        for c in sorted(grouped)
        if grouped[c] or c in catalog.category_descriptions
    ]


def tools_of(
    catalog: GatewayCatalog, integration: str, offset: int, limit: int, permits: Permits = _every
) -> tuple[list[ToolView], int]:
    """One page of ``integration``'s tools (by name) the viewer may call, with their schemas, and
    how many those are."""
    records = sorted(
        (r for r in catalog.tools.values() if r.integration == integration and permits(r)),
        key=lambda r: r.name,
    )
    page = records[offset : offset + limit]
    return [
        ToolView(r.name, r.title, r.description, json.dumps(r.input_schema, indent=2, ensure_ascii=False),
                 definition_tokens(r))
        for r in page
    ], len(records)  # fmt: skip


@dataclass(frozen=True)
class CategoryRow:
    name: str
    description: str
    state: str  # down | awake | asleep
    replicas: int | None  # None: not known here
    last_wake: Wake | None
    problem: str | None


def category_rows(
    states: Mapping[str, CategoryState],
    replicas: Mapping[str, int],
    problems: Mapping[str, str],
    wakes: Mapping[str, Wake],
    descriptions: Mapping[str, str],
    shown: Iterable[str],
) -> list[CategoryRow]:
    """The ``shown`` categories, each with its state as the gateway sees it."""
    rows = []
    for name in sorted(shown):
        state = states.get(name, CategoryState(awake=False, down=name in problems))
        label = "down" if state.down else "awake" if state.awake else "asleep"
        rows.append(
            CategoryRow(
                name,
                descriptions.get(name, ""),
                label,
                replicas.get(name),
                wakes.get(name),
                problems.get(name),
            )
        )
    return rows


def visible_categories(catalog: GatewayCatalog, known: Iterable[str], may_use: MayUse) -> set[str]:
    """The categories ``known`` that hold an integration the viewer may use, or none at all."""
    members: dict[str, set[str]] = {}
    for integration, category in catalog.integration_categories.items():
        members.setdefault(category, set()).add(integration)
    for record in catalog.tools.values():
        members.setdefault(record.category, set()).add(record.integration)
    return {c for c in known if not members.get(c) or any(may_use(i) for i in members[c])}


def calls(recent: Sequence[Call], may_use: MayUse, may_call: MayUse = lambda tool: True) -> list[Call]:
    """The recent calls of tools the viewer may call (``may_call(tool)``)."""
    return [c for c in recent if may_use(c.integration) and may_call(c.tool)]


@dataclass(frozen=True)
class ResultRow:
    rank: int
    tool: str
    category: str
    integration: str
    scores: Scores | None
    line_tokens: int  # its line in the search result
    schema_tokens: int  # its definition, as describe_tools gives it


@dataclass(frozen=True)
class SearchCost:
    lines: int  # the results as search_tools shows them
    schemas: int  # the results' definitions (describe_tools on all of them)
    everything: int  # every tool the viewer may call, listed with its schema
    tools: int  # how many those are

    @property
    def ratio(self) -> float:
        """How many times the listing of everything costs what the search's result costs."""
        return self.everything / max(1, self.lines)


def search_rows(found: Sequence[tuple[ToolRecord, Scores | None]]) -> list[ResultRow]:
    return [
        ResultRow(n, r.name, r.category, r.integration, s, line_tokens(r), definition_tokens(r))
        for n, (r, s) in enumerate(found, 1)
    ]


def search_cost(
    rows: Sequence[ResultRow], catalog: GatewayCatalog, may_use: MayUse, permits: Permits = _every
) -> SearchCost:
    listed = [definition_tokens(r) for r in catalog.tools.values() if may_use(r.integration) and permits(r)]
    return SearchCost(
        sum(r.line_tokens for r in rows), sum(r.schema_tokens for r in rows), sum(listed), len(listed)
    )


@dataclass(frozen=True)
class SearchForm:
    query: str
    limit: int
    category: str
    error: str | None = None


def search_form(fields: Mapping[str, str], default_limit: int, categories: Iterable[str]) -> SearchForm:
    """The playground's form as posted; ``error`` names the field that is wrong and how."""
    query = fields.get("query", "").strip()
    category = fields.get("category", "")
    raw = fields.get("limit", "").strip() or str(default_limit)
    limit = int(raw) if raw.isdigit() else 0
    if not 1 <= limit <= 50:
        return SearchForm(query, default_limit, category, "limit: a whole number from 1 to 50")
    if category and category not in set(categories):
        return SearchForm(query, limit, "", f"category: no category is named {category!r}")
    if not query:
        return SearchForm(query, limit, category, "query: type what an agent would ask for")
    if len(query) > 2000:
        return SearchForm(query[:2000], limit, category, "query: at most 2,000 characters")
    return SearchForm(query, limit, category)


def when(at: float) -> str:
    """A wall-clock time as the console shows it (UTC, to the second)."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
