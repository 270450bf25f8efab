"""What an operation returns, as field names (toolmesh.openapi.responses), through the compiler."""

from __future__ import annotations

import json
from typing import Any

from toolmesh.openapi import CompileOptions, compile_spec

PROJECT = {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}


def spec(responses: dict[str, Any], schemas: dict[str, Any] | None = None) -> bytes:
    return json.dumps({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": {"/projects": {"get": {"operationId": "listProjects", "responses": responses}}},
        "components": {"schemas": schemas or {}},
    }).encode()  # fmt: skip


def returns(responses: dict[str, Any], schemas: dict[str, Any] | None = None) -> tuple[str, ...]:
    (tool,) = compile_spec(spec(responses, schemas), CompileOptions()).tools
    return tool.returns


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "ok", "content": {"application/json": {"schema": schema}}}


def test_the_fields_of_an_object_of_a_list_and_of_a_wrapped_list_are_returned() -> None:
    assert returns({"200": json_body(PROJECT)}) == ("id", "name")
    assert returns({"200": json_body({"type": "array", "items": PROJECT})}) == ("id", "name")
    wrapped = {"type": "object", "properties": {"data": {"type": "array", "items": PROJECT}, "next": {}}}
    assert returns({"200": json_body(wrapped)}) == ("data", "id", "name", "next")


def test_refs_and_all_of_are_followed_and_the_first_success_response_counts() -> None:
    schemas = {"Project": {"allOf": [{"$ref": "#/components/schemas/Base"}, PROJECT]},
               "Base": {"type": "object", "properties": {"createdAt": {"type": "string"}}}}  # fmt: skip
    responses = {"404": json_body({"properties": {"error": {}}}),
                 "201": json_body({"$ref": "#/components/schemas/Project"})}  # fmt: skip
    assert returns(responses, schemas) == ("createdAt", "id", "name")


def test_what_it_cannot_read_returns_nothing_and_compiles() -> None:
    assert returns({"204": {"description": "no content"}}) == ()
    assert (
        returns({"200": {"description": "text", "content": {"text/plain": {"schema": {"type": "string"}}}}})
        == ()
    )
    assert returns({"200": json_body({"$ref": "#/components/schemas/Missing"})}) == ()
    cyclic = {
        "Node": {"type": "object", "properties": {"id": {}}, "items": {"$ref": "#/components/schemas/Node"}}
    }
    assert returns({"200": json_body({"$ref": "#/components/schemas/Node"})}, cyclic) == ("id",)


def test_returned_fields_are_not_part_of_the_served_digest() -> None:
    plain = compile_spec(spec({"200": {"description": "ok"}}), CompileOptions())
    rich = compile_spec(spec({"200": json_body(PROJECT)}), CompileOptions())
    assert rich.tools[0].returns == ("id", "name")
    assert plain.tools[0].returns == ()
    assert "returns" not in rich.tools[0].to_dict()
    assert rich.digest == plain.digest  # the category server serves the same tools: no rollout


def test_a_swagger_2_response_schema_is_read_like_a_json_body() -> None:
    doc = {
        "swagger": "2.0", "info": {"title": "t", "version": "1"}, "host": "api.example.com",
        "paths": {"/projects": {"get": {"operationId": "listProjects", "responses": {
            "200": {"description": "ok", "schema": {"type": "array", "items": {"$ref": "#/definitions/Project"}}},
            "404": {"$ref": "#/responses/Missing"}}}}},
        "definitions": {"Project": PROJECT},
        "responses": {"Missing": {"description": "missing", "schema": {"properties": {"error": {}}}}},
    }  # fmt: skip
    (tool,) = compile_spec(json.dumps(doc).encode(), CompileOptions()).tools
    assert tool.returns == ("id", "name")
