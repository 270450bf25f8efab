"""``MCPProfile``: a curated set of tools for some callers (users, groups), on top of ``spec.access``.

A profile narrows what its callers see and call; it never widens it: a tool outside an
integration's ``spec.access`` stays out of reach whatever a profile selects. The gateway applies
profiles and writes their status (docs/design/0021).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from toolmesh.api.base import (
    DNS_LABEL,
    ApiModel,
    Condition,
    CrdInfo,
    Rule,
    TypedObject,
    age_column,
    ready_column,
    reason_column,
)

#: A tool name or shell-style glob over tool names (``tasks__list*``, ``*__get*``).
ToolGlob = Annotated[str, Field(min_length=1, max_length=128)]
Name = Annotated[str, Field(pattern=DNS_LABEL, max_length=63)]


def _selects_something(field: str) -> Rule:
    return Rule(
        cel=" || ".join(
            f"(has(self.{f}) && size(self.{f}) > 0)" for f in ("integrations", "categories", "names")
        ),
        message=f"{field} must set at least one of integrations, categories or names (names: ['*'] selects every tool)",
        check=lambda s: bool(s.integrations or s.categories or s.names),
    )


class _ToolMatch(ApiModel):
    integrations: Annotated[
        list[Name],
        Field(
            description="Names of MCPIntegrations (same namespace): every tool they provide.", max_length=256
        ),
    ] = Field(default_factory=list)
    categories: Annotated[
        list[Name],
        Field(
            description="Names of MCPCategories (same namespace): every tool of the integrations they serve.",
            max_length=256,
        ),
    ] = Field(default_factory=list)
    names: Annotated[
        list[ToolGlob],
        Field(
            description="Tool names as the gateway exposes them, or shell-style globs over them, e.g. 'tasks__list*'.",
            max_length=256,
        ),
    ] = Field(default_factory=list)


class ToolSelection(_ToolMatch):
    """The tools a profile gives: a tool is selected when any entry of any list matches it."""

    rules = (_selects_something("spec.tools"),)


class ToolExclusion(_ToolMatch):
    """Tools taken out of the selection: a tool is left out when any entry of any list matches it."""

    rules = (_selects_something("spec.exclude"),)


class Subjects(ApiModel):
    """The callers a profile applies to: any listed user, or anyone in a listed group."""

    users: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256)]],
        Field(
            description="Callers by subject: a token's sub claim, or api-key:<first 12 hex digits of the key's SHA-256> for API keys.",
            max_length=256,
        ),
    ] = Field(default_factory=list)
    groups: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256)]],
        Field(description="Callers in any of these groups (the token's groups claim).", max_length=256),
    ] = Field(default_factory=list)


class MCPProfileSpec(ApiModel):
    """Which callers get which tools. Several profiles naming a caller: the union of their tools."""

    rules = (
        Rule(
            cel="(has(self.default) && self.default) || (has(self.subjects) && ((has(self.subjects.users) && size(self.subjects.users) > 0) || (has(self.subjects.groups) && size(self.subjects.groups) > 0)))",
            message="spec.subjects must name at least one user or group, unless spec.default is true",
            check=lambda s: (
                bool(s.default) or (s.subjects is not None and bool(s.subjects.users or s.subjects.groups))
            ),
        ),
    )

    description: Annotated[
        str | None,
        Field(
            description="What the profile is for, e.g. 'support agents: tickets and docs'.", max_length=2048
        ),
    ] = None
    subjects: Annotated[
        Subjects | None, Field(description="The callers it applies to (users and groups).")
    ] = None
    default: Annotated[
        bool | None,
        Field(
            description="Also applies to every caller that no other profile names. Unset or false: such callers are not limited by this profile."
        ),
    ] = None
    tools: Annotated[ToolSelection, Field(description="The tools it gives, before spec.exclude.")]
    exclude: Annotated[
        ToolExclusion | None, Field(description="Tools left out of spec.tools' selection.")
    ] = None


class MCPProfileStatus(ApiModel):
    """Observed state of a profile, written by the gateway (field manager toolmesh-gateway-profile)."""

    observed_generation: Annotated[
        int | None, Field(description="The .metadata.generation this status describes.", ge=0)
    ] = None
    conditions: Annotated[
        list[Condition],
        Field(
            description="Current observations: Ready (every selector matches something that exists).",
            max_length=16,
        ),
    ] = Field(default_factory=list)
    tools: Annotated[
        int | None,
        Field(description="Tools the profile selects in the gateway's catalog, before spec.access.", ge=0),
    ] = None
    exposure: Annotated[
        str | None,
        Field(
            description="How its callers see them: Direct (listed as tools, up to TOOLMESH_DIRECT_TOOLS_LIMIT) or Search (the scope of search_tools).",
            max_length=16,
        ),
    ] = None
    subjects: Annotated[
        str | None,
        Field(description="Who it applies to, in short, e.g. 'group:support, user:alice'.", max_length=256),
    ] = None


class MCPProfile(TypedObject):
    """A curated set of tools for some callers: listed directly when small, the search scope when large."""

    crd = CrdInfo(
        kind="MCPProfile",
        plural="mcpprofiles",
        singular="mcpprofile",
        short_names=("mcpp",),
        printer_columns=(
            ready_column(),
            {"name": "Tools", "type": "integer", "jsonPath": ".status.tools"},
            {"name": "Exposure", "type": "string", "jsonPath": ".status.exposure"},
            {"name": "Subjects", "type": "string", "jsonPath": ".status.subjects"},
            reason_column(),
            age_column(),
        ),
    )

    spec: Annotated[MCPProfileSpec, Field(description="Which callers get which tools.")]
    status: Annotated[
        MCPProfileStatus | None, Field(description="Observed state, written by the gateway.")
    ] = None
