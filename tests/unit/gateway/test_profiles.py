"""Profiles, pure: who a profile names, what it selects, how several combine, and its status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from toolmesh.api import MCPProfile
from toolmesh.gateway import profiles
from toolmesh.gateway.auth import Principal


@dataclass(frozen=True)
class T:
    name: str
    integration: str
    category: str


TOOLS = [
    T("tasks__listProjects", "tasks", "pm"),
    T("tasks__getTask", "tasks", "pm"),
    T("tasks__deleteTask", "tasks", "pm"),
    T("status__getStatus", "status-page", "pm"),
    T("code__search", "code-search", "code"),
]
INTEGRATIONS = {"tasks": "pm", "status-page": "pm", "code-search": "code", "broken": "pm"}
CATEGORIES = ["pm", "code"]


def profile(name: str, generation: int = 1, **spec: Any) -> profiles.Profile:
    obj = MCPProfile.model_validate(
        {"kind": "MCPProfile", "metadata": {"name": name, "generation": generation}, "spec": spec}
    )
    return profiles.Profile.of(obj)


SUPPORT = profile(
    "support",
    subjects={"groups": ["support"]},
    tools={"integrations": ["status-page"], "names": ["tasks__get*"]},
)
ENGINEERING = profile(
    "engineering",
    subjects={"groups": ["engineering"], "users": ["alice"]},
    tools={"categories": ["pm", "code"]},
    exclude={"names": ["*__delete*"]},
)
DEFAULT = profile("everyone-else", default=True, tools={"names": ["tasks__list*"]})


def names(found: frozenset[str] | None) -> list[str] | None:
    return None if found is None else sorted(found)


def test_a_caller_named_by_a_profile_gets_exactly_its_selection() -> None:
    support = Principal("bob", groups=frozenset({"support"}))
    assert names(profiles.allowed_tools([SUPPORT, ENGINEERING], support, TOOLS)) == [
        "status__getStatus",
        "tasks__getTask",
    ]


def test_a_profile_names_callers_by_user_or_by_group() -> None:
    assert ENGINEERING.names(Principal("alice"))
    assert ENGINEERING.names(Principal("carol", groups=frozenset({"engineering", "x"})))
    assert not ENGINEERING.names(Principal("carol", groups=frozenset({"support"})))


def test_excludes_take_tools_out_of_the_selection() -> None:
    assert names(profiles.allowed_tools([ENGINEERING], Principal("alice"), TOOLS)) == [
        "code__search",
        "status__getStatus",
        "tasks__getTask",
        "tasks__listProjects",
    ]


def test_several_profiles_naming_a_caller_give_the_union_of_their_tools() -> None:
    both = Principal("dave", groups=frozenset({"support"}))
    more = profile("deleters", subjects={"users": ["dave"]}, tools={"names": ["tasks__deleteTask"]})
    assert names(profiles.allowed_tools([SUPPORT, more], both, TOOLS)) == [
        "status__getStatus",
        "tasks__deleteTask",
        "tasks__getTask",
    ]


def test_a_caller_no_profile_names_gets_the_default_profiles_and_without_one_is_not_limited() -> None:
    stranger = Principal("eve", groups=frozenset({"marketing"}))
    assert names(profiles.allowed_tools([SUPPORT, DEFAULT], stranger, TOOLS)) == ["tasks__listProjects"]
    assert profiles.allowed_tools([SUPPORT, ENGINEERING], stranger, TOOLS) is None
    assert profiles.allowed_tools([], stranger, TOOLS) is None


def test_a_default_profile_does_not_apply_to_callers_another_profile_names() -> None:
    support = Principal("bob", groups=frozenset({"support"}))
    assert "tasks__listProjects" not in (profiles.allowed_tools([SUPPORT, DEFAULT], support, TOOLS) or ())


def test_a_default_profile_that_also_names_subjects_applies_to_them_and_to_strangers() -> None:
    both = profile(
        "base", default=True, subjects={"groups": ["ops"]}, tools={"integrations": ["code-search"]}
    )
    for caller in (Principal("x", groups=frozenset({"ops"})), Principal("y")):
        assert names(profiles.allowed_tools([both], caller, TOOLS)) == ["code__search"]


def test_globs_match_whole_names_and_only_names() -> None:
    p = profile("p", subjects={"users": ["u"]}, tools={"names": ["tasks__get"]})
    assert names(profiles.allowed_tools([p], Principal("u"), TOOLS)) == []  # not a prefix match
    star = profile("p", subjects={"users": ["u"]}, tools={"names": ["*"]})
    assert len(profiles.allowed_tools([star], Principal("u"), TOOLS) or ()) == len(TOOLS)


def test_a_profile_covers_prompts_and_resources_of_integrations_it_selects_whole() -> None:
    assert SUPPORT.covers("status-page", "pm")
    assert not SUPPORT.covers("tasks", "pm")  # selected by tool names only
    assert ENGINEERING.covers("code-search", "code")
    left_out = profile(
        "p", subjects={"users": ["u"]}, tools={"categories": ["pm"]}, exclude={"integrations": ["tasks"]}
    )
    assert not left_out.covers("tasks", "pm")


def test_the_scope_key_changes_with_a_profiles_generation() -> None:
    caller = Principal("alice")
    first = profiles.scope([ENGINEERING], caller)
    edited = profiles.scope(
        [profile("engineering", 2, subjects={"users": ["alice"]}, tools={"names": ["*"]})], caller
    )
    assert first is not None
    assert edited is not None
    assert first.key != edited.key


def test_a_profile_whose_selectors_all_match_is_ready_and_says_how_it_is_exposed() -> None:
    verdict = profiles.verdict(ENGINEERING, TOOLS, INTEGRATIONS, CATEGORIES, direct_limit=32)
    assert verdict.ready
    assert (verdict.tools, verdict.exposure, verdict.reason) == (4, "Direct", "ToolsSelected")
    assert verdict.subjects == "group:engineering, user:alice"
    large = profiles.verdict(ENGINEERING, TOOLS, INTEGRATIONS, CATEGORIES, direct_limit=3)
    assert large.exposure == "Search"
    assert "the scope of search_tools" in large.message


def test_an_unknown_integration_makes_the_profile_not_ready_naming_the_field() -> None:
    p = profile("p", subjects={"users": ["u"]}, tools={"integrations": ["tasks", "crm"]})
    verdict = profiles.verdict(p, TOOLS, INTEGRATIONS, CATEGORIES, direct_limit=32)
    assert not verdict.ready
    assert verdict.reason == "IntegrationNotFound"
    assert "spec.tools.integrations[1]: there is no MCPIntegration 'crm'" in verdict.message
    assert "still applies with the 3 tools it selects" in verdict.message
    assert verdict.tools == 3


@pytest.mark.parametrize(
    ("spec", "reason", "sentence"),
    [
        ({"names": ["crm__*"]}, "NoToolsMatched", "spec.tools.names[0]: 'crm__*' matches no tool's name"),
        (
            {"categories": ["finance"]},
            "CategoryNotFound",
            "spec.tools.categories[0]: there is no MCPCategory 'finance'",
        ),
        (
            {"integrations": ["broken"]},
            "NoToolsMatched",
            "spec.tools.integrations[0]: MCPIntegration 'broken' has no tools",
        ),
    ],
)
def test_a_selector_that_matches_nothing_is_named_in_the_ready_condition(
    spec: dict[str, Any], reason: str, sentence: str
) -> None:
    p = profile("p", subjects={"users": ["u"]}, tools={"integrations": ["tasks"], **spec})
    verdict = profiles.verdict(p, TOOLS, INTEGRATIONS, CATEGORIES, direct_limit=32)
    assert (verdict.ready, verdict.reason) == (False, reason)
    assert sentence in verdict.message


def test_an_unknown_name_in_exclude_is_reported_too() -> None:
    p = profile(
        "p", subjects={"users": ["u"]}, tools={"categories": ["pm"]}, exclude={"integrations": ["tasks-old"]}
    )
    verdict = profiles.verdict(p, TOOLS, INTEGRATIONS, CATEGORIES, direct_limit=32)
    assert "spec.exclude.integrations[0]: there is no MCPIntegration 'tasks-old'" in verdict.message


def test_a_profile_that_excludes_everything_it_selects_is_not_ready() -> None:
    p = profile(
        "p", subjects={"users": ["u"]}, tools={"integrations": ["tasks"]}, exclude={"categories": ["pm"]}
    )
    verdict = profiles.verdict(p, TOOLS, INTEGRATIONS, CATEGORIES, direct_limit=32)
    assert (verdict.ready, verdict.reason, verdict.tools) == (False, "NoToolsMatched", 0)
    assert "selects no tool once spec.exclude is applied" in verdict.message


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"tools": {"names": ["*"]}},
            "spec.subjects must name at least one user or group, unless spec.default is true",
        ),
        (
            {"subjects": {"users": ["u"]}, "tools": {}},
            "spec.tools must set at least one of integrations, categories or names",
        ),
        (
            {"subjects": {"users": ["u"]}, "tools": {"names": ["*"]}, "exclude": {}},
            "spec.exclude must set at least one of",
        ),
    ],
)
def test_the_model_rejects_a_profile_naming_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("*", r"\*")):
        MCPProfile.model_validate({"kind": "MCPProfile", "metadata": {"name": "p"}, "spec": spec})
