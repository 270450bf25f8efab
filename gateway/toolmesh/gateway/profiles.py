"""Profiles (MCPProfile), pure: which profiles name a caller, which tools they select, and what a
profile's status says. No I/O; the catalog holds the compiled profiles, the service asks them.

* A caller is named by a profile when its subject is in ``spec.subjects.users`` or one of its
  groups is in ``spec.subjects.groups``. Several profiles naming it: the union of their tools.
  Named by none: the ``spec.default: true`` profiles apply (their union); there are none: the
  caller is not limited by profiles (everything ``spec.access`` allows, as without profiles).
* A profile selects a tool when any entry of ``spec.tools`` matches it (its integration, its
  category, its name or a glob over names) and no entry of ``spec.exclude`` does.
* Profiles only narrow: the service asks ``spec.access`` as well, always (docs/design/0021).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from toolmesh.api import MCPProfile, conditions
from toolmesh.api.profile import MCPProfileSpec, ToolExclusion, ToolSelection

DIRECT, SEARCH = "Direct", "Search"
_Side = ToolSelection | ToolExclusion
#: Problems named in one Ready message; the rest are counted.
MAX_PROBLEMS = 5


class Tool(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def integration(self) -> str: ...
    @property
    def category(self) -> str: ...


class Caller(Protocol):
    @property
    def subject(self) -> str: ...
    @property
    def groups(self) -> frozenset[str]: ...


def _globs(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One regular expression for a list of shell-style globs (None for an empty list)."""
    parts = [fnmatch.translate(p) for p in patterns]
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


@dataclass(frozen=True)
class Match:
    """One side of a selection (spec.tools or spec.exclude), compiled."""

    integrations: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    names: re.Pattern[str] | None = None

    def matches(self, tool: Tool) -> bool:
        return (
            tool.integration in self.integrations
            or tool.category in self.categories
            or (self.names is not None and self.names.fullmatch(tool.name) is not None)
        )


@dataclass(frozen=True)
class Profile:
    """An MCPProfile as the gateway applies it."""

    name: str
    spec: MCPProfileSpec
    generation: int
    include: Match
    exclude: Match

    @classmethod
    def of(cls, obj: MCPProfile) -> Profile:
        spec = obj.spec
        out = spec.exclude
        return cls(
            obj.metadata.name,
            spec,
            obj.metadata.generation or 0,
            Match(
                frozenset(spec.tools.integrations), frozenset(spec.tools.categories), _globs(spec.tools.names)
            ),
            Match(frozenset(out.integrations), frozenset(out.categories), _globs(out.names))
            if out
            else Match(),
        )

    def names(self, caller: Caller) -> bool:
        """Does the profile name this caller (a user, or one of its groups)?"""
        subjects = self.spec.subjects
        if subjects is None:
            return False
        return caller.subject in subjects.users or not caller.groups.isdisjoint(subjects.groups)

    def selects(self, tool: Tool) -> bool:
        return self.include.matches(tool) and not self.exclude.matches(tool)

    def covers(self, integration: str, category: str) -> bool:
        """Does it select the integration as a whole (by its name or category), for what it offers
        besides tools: prompts and resources? Tool names select tools only."""
        whole = integration in self.include.integrations or category in self.include.categories
        left_out = integration in self.exclude.integrations or category in self.exclude.categories
        return whole and not left_out


@dataclass(frozen=True)
class Scope:
    """The profiles that apply to one caller: a tool is in scope when any of them selects it."""

    profiles: tuple[Profile, ...]

    @property
    def key(self) -> tuple[tuple[str, int], ...]:
        """Identifies the scope (the profiles and their generations), e.g. to cache its listing."""
        return tuple((p.name, p.generation) for p in self.profiles)

    def selects(self, tool: Tool) -> bool:
        return any(p.selects(tool) for p in self.profiles)

    def covers(self, integration: str, category: str) -> bool:
        return any(p.covers(integration, category) for p in self.profiles)


def scope(profiles: Iterable[Profile], caller: Caller) -> Scope | None:
    """The profiles that apply to ``caller``, or None when none do (the caller is not limited)."""
    every = sorted(profiles, key=lambda p: p.name)
    named = tuple(p for p in every if p.names(caller))
    if named:
        return Scope(named)
    defaults = tuple(p for p in every if p.spec.default)
    return Scope(defaults) if defaults else None


def allowed_tools(
    profiles: Iterable[Profile], caller: Caller, tools: Iterable[Tool]
) -> frozenset[str] | None:
    """The names of the tools profiles let ``caller`` have, or None when no profile limits it.

    Before ``spec.access``, which the gateway applies as well: the answer is what profiles allow.
    """
    found = scope(profiles, caller)
    if found is None:
        return None
    return frozenset(t.name for t in tools if found.selects(t))


@dataclass(frozen=True)
class Verdict:
    """What a profile's status says (status.tools, exposure, subjects, and its Ready condition)."""

    tools: int
    exposure: str
    subjects: str
    ready: bool
    reason: str
    message: str


def subjects_text(spec: MCPProfileSpec) -> str:
    """Who a profile applies to, in short, for the printer column."""
    parts = [f"group:{g}" for g in spec.subjects.groups] if spec.subjects else []
    parts += [f"user:{u}" for u in spec.subjects.users] if spec.subjects else []
    if spec.default:
        parts.insert(0, "default")
    text = ", ".join(parts)
    return text if len(text) <= 256 else text[:253] + "..."


def _problems(
    profile: Profile, tools: list[Tool], integrations: Mapping[str, str], categories: Iterable[str]
) -> list[tuple[str, str]]:
    """Each selector that names something missing or matches nothing: (reason, sentence)."""
    known_categories = set(categories) | set(integrations.values())
    out: list[tuple[str, str]] = []
    sides: list[tuple[str, _Side]] = [("spec.tools", profile.spec.tools)]
    if profile.spec.exclude is not None:
        sides.append(("spec.exclude", profile.spec.exclude))
    for field, side in sides:
        for i, name in enumerate(side.integrations):
            if name not in integrations:
                out.append(
                    (
                        conditions.INTEGRATION_NOT_FOUND,
                        f"{field}.integrations[{i}]: there is no MCPIntegration {name!r}",
                    )
                )
            elif field == "spec.tools" and not any(t.integration == name for t in tools):
                out.append(
                    (conditions.NO_TOOLS_MATCHED,
                     f"{field}.integrations[{i}]: MCPIntegration {name!r} has no tools in the gateway's catalog (its status says why)")
                )  # fmt: skip
        for i, name in enumerate(side.categories):
            if name not in known_categories:
                out.append(
                    (
                        conditions.CATEGORY_NOT_FOUND,
                        f"{field}.categories[{i}]: there is no MCPCategory {name!r}",
                    )
                )
            elif field == "spec.tools" and not any(t.category == name for t in tools):
                out.append(
                    (conditions.NO_TOOLS_MATCHED,
                     f"{field}.categories[{i}]: MCPCategory {name!r} serves no tools in the gateway's catalog")
                )  # fmt: skip
        if field == "spec.tools":
            for i, pattern in enumerate(side.names):
                compiled = _globs([pattern])
                if compiled is not None and not any(compiled.fullmatch(t.name) for t in tools):
                    out.append(
                        (
                            conditions.NO_TOOLS_MATCHED,
                            f"{field}.names[{i}]: {pattern!r} matches no tool's name",
                        )
                    )
    return out


def verdict(
    profile: Profile,
    tools: Iterable[Tool],
    integrations: Mapping[str, str],
    categories: Iterable[str],
    direct_limit: int,
) -> Verdict:
    """The status of ``profile`` over a catalog: ``tools`` (every tool), ``integrations`` (each
    integration's category, tools or not) and ``categories`` (every category's name)."""
    every = list(tools)
    selected = sum(1 for t in every if profile.selects(t))
    exposure = DIRECT if selected <= direct_limit else SEARCH
    subjects = subjects_text(profile.spec)
    problems = _problems(profile, every, integrations, categories)
    if not problems and selected == 0:
        problems = [(conditions.NO_TOOLS_MATCHED, "spec.tools selects no tool once spec.exclude is applied")]
    if problems:
        shown = "; ".join(sentence for _, sentence in problems[:MAX_PROBLEMS])
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        message = (
            f"{shown}{more}. The profile still applies with the {selected} tools it selects: "
            "fix the names, or remove the selectors."
        )
        return Verdict(selected, exposure, subjects, False, problems[0][0], message)
    how = "listed directly" if exposure == DIRECT else "the scope of search_tools"
    message = f"{selected} tools selected; its callers see them {how}."
    return Verdict(selected, exposure, subjects, True, conditions.TOOLS_SELECTED, message)
