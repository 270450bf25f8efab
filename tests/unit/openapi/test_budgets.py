"""A hostile document is refused with one SpecError naming the budget it breaks, quickly and in bounded memory."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from toolmesh.openapi import CompileOptions, Selector, SpecError, budgets, compile_spec

HEAD = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\n"


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
