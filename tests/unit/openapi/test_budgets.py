"""A hostile document is refused with one SpecError naming the budget it breaks, quickly and in bounded memory."""

from __future__ import annotations

import gzip
import json
import os
import time
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolmesh.openapi import CompileOptions, Selector, SpecError, budgets, compile_spec

HEAD = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\n"
EXAMPLES = int(os.environ.get("TOOLMESH_PROPERTY_EXAMPLES", "300"))


def laughs(levels: int = 9) -> str:
    """The billion laughs in OpenAPI clothing: nine lists of nine aliases of the level below."""
    lines = [HEAD.rstrip(), "x-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x-a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    lines.append(f"paths: {{/x: {{get: {{responses: {{'200': {{description: *a{levels - 1}}}}}}}}}}}")
    return "\n".join(lines) + "\n"


def operations(n: int) -> str:
    paths = {f"/r{i}": {"get": {"operationId": f"op{i}", "responses": {}}} for i in range(n)}
    return json.dumps({"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": paths})


def nested_schema(levels: int) -> str:
    schema = '{"type": "string"}'
    for _ in range(levels):
        schema = '{"type": "object", "properties": {"a": ' + schema + "}}"
    body = '{"content": {"application/json": {"schema": ' + schema + "}}}"
    return (
        '{"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {"/x": {"post": '
        '{"operationId": "make", "requestBody": ' + body + ', "responses": {}}}}}'
    )


def refused(document: str | bytes) -> str:
    started = time.perf_counter()
    with pytest.raises(SpecError) as error:
        compile_spec(document, source="integration hostile")
    assert time.perf_counter() - started < 2.0
    message = str(error.value)
    assert message.startswith("integration hostile: ")
    assert "\n" not in message
    return message


def test_yaml_aliases_that_expand_past_the_budget_are_refused() -> None:
    document = laughs()
    assert len(document.encode()) < 800
    assert "expands to more than 5,000,000 values" in refused(document)


def test_a_yaml_alias_inside_its_own_anchor_is_refused() -> None:
    assert "recursive node" in refused(HEAD + "x-loop: &l [1, *l]\npaths: {}\n")  # PyYAML's own refusal
    loop: list[object] = [1]
    loop.append({"again": loop})
    with pytest.raises(SpecError, match="refers to a value that contains it"):
        budgets.check_values({"x": loop}, source="a parsed document")


def test_a_few_aliases_are_fine() -> None:
    assert len(compile_spec(laughs(levels=4)).tools) == 1


@pytest.mark.parametrize(
    "document",
    [
        HEAD + "x-deep: " + "{a: " * 1_000 + "1" + "}" * 1_000 + "\npaths: {}\n",
        HEAD + "x-deep: " + "[" * 1_000 + "]" * 1_000 + "\npaths: {}\n",
        '{"openapi": "3.0.0", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        nested_schema(1_000),
    ],
    ids=["yaml-mappings", "yaml-lists", "json-100000", "json-schema-1000"],
)
def test_nesting_past_the_budget_is_refused_not_a_recursion_error(document: str) -> None:
    assert f"nests deeper than {budgets.MAX_DEPTH} levels" in refused(document)


def test_nesting_within_the_budget_compiles() -> None:
    levels = (budgets.MAX_DEPTH - 12) // 2  # each schema level is two mappings; the envelope takes the rest
    spec = compile_spec(nested_schema(levels))
    assert [t.name for t in spec.tools] == ["make"]


def test_a_document_past_the_size_budget_is_refused_gzip_bombs_included(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budgets, "MAX_DOCUMENT_BYTES", 100_000)
    padding = HEAD + "x-pad: '" + "x" * 200_000 + "'\npaths: {}\n"
    assert "larger than 100,000 bytes" in refused(padding)
    bomb = gzip.compress(padding.encode())
    assert len(bomb) < 1_000
    assert "larger than 100,000 bytes" in refused(bomb)
    two_members = gzip.compress(operations(2).encode()[:40]) + gzip.compress(operations(2).encode()[40:])
    assert len(compile_spec(two_members).tools) == 2


def test_more_operations_than_the_budget_are_refused_unless_fewer_are_selected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budgets, "MAX_OPERATIONS", 3)
    assert "more than 3 operations are selected" in refused(operations(4))
    few = CompileOptions(include=Selector(operations=("op1", "op2")))
    assert len(compile_spec(operations(4), few).tools) == 2


def test_a_json_document_gets_the_same_verdicts_as_a_yaml_one() -> None:
    """JSON has no aliases: its one-pass measure (budgets.check_values(tree=True)) must refuse exactly
    what the alias-aware measure refuses, naming the same budget."""
    wide = (
        '{"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}, "x": ['
        + ",".join(["1"] * (budgets.MAX_VALUES + 1))
        + "]}"
    )
    with pytest.raises(
        SpecError, match="expands to more than 5,000,000 values"
    ):  # no time bound: 10 MB of JSON
        compile_spec(wide, source="integration wide")
    deep = "[" * budgets.MAX_DEPTH + "]" * budgets.MAX_DEPTH
    within = json.loads('{"x": ' + "[" * (budgets.MAX_DEPTH - 1) + "]" * (budgets.MAX_DEPTH - 1) + "}")
    budgets.check_values(within, source="s", tree=True)  # exactly the deepest accepted
    budgets.check_values(within, source="s")
    for tree in (True, False):
        with pytest.raises(SpecError, match=f"nests deeper than {budgets.MAX_DEPTH} levels"):
            budgets.check_values({"x": json.loads(deep)}, source="s", tree=tree)


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(
    doc=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=3),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
        max_leaves=60,
    ),
    values=st.integers(min_value=1, max_value=80),
    depth=st.integers(min_value=1, max_value=8),
)
def test_the_one_pass_measure_agrees_with_the_alias_aware_one_on_any_tree(
    doc: object, values: int, depth: int
) -> None:
    verdicts = []
    with mock.patch.object(budgets, "MAX_VALUES", values), mock.patch.object(budgets, "MAX_DEPTH", depth):
        for tree in (True, False):
            try:
                budgets.check_values(doc, source="s", tree=tree)
                verdicts.append("ok")
            except SpecError as exc:
                verdicts.append(str(exc))
    count, nesting = measure(doc)
    assert (verdicts[0] == "ok") == (count <= values and nesting <= depth)
    assert (verdicts[0] == "ok") == (verdicts[1] == "ok")
    for verdict in verdicts:  # a refusal names a budget the document breaks (either, when it breaks both)
        assert (
            verdict == "ok"
            or ("values" in verdict and count > values)
            or ("nests" in verdict and nesting > depth)
        )


def measure(value: object) -> tuple[int, int]:
    """Values and nesting depth of a small tree, the obvious recursive way (the reference)."""
    if isinstance(value, dict | list):
        children = [measure(c) for c in (value.values() if isinstance(value, dict) else value)]
        return 1 + sum(c for c, _ in children), 1 + max((d for _, d in children), default=0)
    return 1, 0
