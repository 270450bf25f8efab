"""The compiler, through its public entry points, on small documents written for each behaviour."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from toolmesh.openapi import CompileOptions, Selector, SpecError, compile_document, compile_spec

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
KEY = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


def doc(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}


def op(**fields: Any) -> dict[str, Any]:
    return {"responses": {"200": {"description": "ok"}}, **fields}


def test_every_tool_of_the_demo_spec_has_a_valid_name_and_schema(demo_spec_text: str) -> None:
    spec = compile_spec(demo_spec_text, CompileOptions(prefix="tasks"))
    assert [t.name for t in spec.tools] == [
        "tasks__listProjects", "tasks__listTasks", "tasks__createTask", "tasks__getTask",
        "tasks__deleteTask", "tasks__updateTask", "tasks__attachFile", "tasks__whoAmI",
    ]  # fmt: skip
    for tool in spec.tools:
        assert NAME.match(tool.name)
        Draft202012Validator.check_schema(tool.input_schema)
        assert all(KEY.match(k) for k in tool.input_schema["properties"])


def test_parameters_of_every_location_become_top_level_arguments_with_routes(demo_spec_text: str) -> None:
    tool = compile_spec(demo_spec_text).tool("listTasks")
    schema = tool.input_schema
    assert set(schema["properties"]) == {"projectId", "limit", "status", "filter", "X-Request-Id"}
    assert schema["required"] == ["projectId"]
    assert schema["additionalProperties"] is False
    routes = dict(tool.route.params)
    assert (routes["projectId"].location, routes["projectId"].style) == ("path", "simple")
    assert (routes["status"].style, routes["status"].explode) == ("form", False)
    assert routes["filter"].style == "deepObject"
    assert routes["X-Request-Id"].location == "header"
    assert compile_spec(demo_spec_text).tool("whoAmI").route.params[0][1].location == "cookie"


def test_request_body_is_one_body_argument_and_keeps_only_the_definitions_it_reaches(
    demo_spec_text: str,
) -> None:
    tool = compile_spec(demo_spec_text).tool("createTask")
    schema = tool.input_schema
    assert schema["required"] == ["projectId", "body"]
    assert schema["properties"]["body"] == {"$ref": "#/$defs/NewTask"}
    assert set(schema["$defs"]) == {"NewTask", "Status"}
    new_task = schema["$defs"]["NewTask"]
    assert "id" not in new_task["properties"], "readOnly properties are never sent"
    assert new_task["properties"]["subtasks"]["items"] == {"$ref": "#/$defs/NewTask"}, (
        "recursion stays a reference"
    )
    assert new_task["properties"]["assignee"]["type"] == ["string", "null"], (
        "3.0 nullable becomes a type union"
    )
    assert tool.route.body is not None
    assert tool.route.body.media_type == "application/json"


def test_parameter_names_clients_reject_are_renamed_and_collisions_get_their_location() -> None:
    spec = compile_document(doc({"/items/{id}": {"get": op(operationId="get", parameters=[
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "id", "in": "query", "schema": {"type": "string"}},
        {"name": "filter[name]", "in": "query", "schema": {"type": "string"}},
        {"name": "$top", "in": "query", "schema": {"type": "integer"}},
        {"name": "body", "in": "query", "schema": {"type": "string"}},
    ], requestBody={"content": {"application/json": {"schema": {"type": "object"}}}})}}))  # fmt: skip
    tool = spec.tools[0]
    routes = {k: (p.location, p.name) for k, p in tool.route.params}
    assert routes == {
        "id": ("path", "id"), "id__query": ("query", "id"), "filter_name": ("query", "filter[name]"),
        "top": ("query", "$top"), "body": ("query", "body"),
    }  # fmt: skip
    assert tool.route.body is not None
    assert tool.route.body.argument == "requestBody"
    assert any(d.code == "ArgumentRenamed" for d in spec.diagnostics)


def test_undeclared_path_parameters_are_accepted_as_required_strings() -> None:
    spec = compile_document(doc({"/users/{user}/repos": {"get": op(operationId="repos")}}))
    tool = spec.tools[0]
    assert tool.input_schema["properties"]["user"] == {"type": "string"}
    assert tool.input_schema["required"] == ["user"]
    assert [d.code for d in spec.diagnostics] == ["UndeclaredPathParameter", "NoServer"]


def test_long_names_are_shortened_deterministically_and_collisions_are_order_independent() -> None:
    long_id = "a" * 100
    paths = {
        "/x": {"get": op(operationId=long_id), "post": op(operationId="dup")},
        "/y": {"get": op(operationId="dup")},
    }
    first = compile_document(doc(paths), CompileOptions(prefix="svc"))
    reversed_paths = {"/y": paths["/y"], "/x": {"post": paths["/x"]["post"], "get": paths["/x"]["get"]}}
    second = compile_document(doc(reversed_paths), CompileOptions(prefix="svc"))
    names = sorted(t.name for t in first.tools)
    assert names == sorted(t.name for t in second.tools)
    assert all(NAME.match(n) for n in names)
    long_name = next(n for n in names if n.startswith("svc__aaaa"))
    assert len(long_name) == 64
    dups = [n for n in names if n.startswith("svc__dup")]
    assert len(dups) == 2
    assert len(set(dups)) == 2


def test_operations_without_operation_id_are_named_from_method_and_path() -> None:
    spec = compile_document(doc({"/repos/{owner}/{repo}/issues": {"post": op()}}))
    assert spec.tools[0].name == "post_repos_owner_repo_issues"


def test_include_exclude_and_read_only_select_operations(demo_spec_text: str) -> None:
    def names(options: CompileOptions) -> list[str]:
        return [t.name for t in compile_spec(demo_spec_text, options).tools]

    assert names(CompileOptions(read_only=True)) == ["listProjects", "listTasks", "getTask", "whoAmI"]
    assert names(CompileOptions(include=Selector(tags=("projects",)))) == ["listProjects"]
    assert names(
        CompileOptions(include=Selector(operations=("list*",)), exclude=Selector(paths=("/projects",)))
    ) == ["listTasks"]
    assert names(CompileOptions(exclude=Selector(methods=("DELETE", "PATCH", "POST")))) == [
        "listProjects",
        "listTasks",
        "getTask",
        "whoAmI",
    ]
    assert compile_spec(demo_spec_text, CompileOptions(read_only=True)).operations_total == 8


def test_the_digest_is_stable_and_changes_only_with_the_compiled_tools(demo_spec_text: str) -> None:
    base = compile_spec(demo_spec_text)
    assert compile_spec(demo_spec_text).digest == base.digest
    assert base.digest.startswith("sha256:")
    # A change that does not reach any tool (a response description) keeps the digest.
    same = compile_spec(demo_spec_text.replace("description: The projects.", "description: All projects."))
    assert same.digest == base.digest
    changed = compile_spec(demo_spec_text.replace("summary: Get a task", "summary: Fetch a task"))
    assert changed.digest != base.digest


def test_openapi_30_keywords_become_json_schema_2020_12() -> None:
    param = {"name": "n", "in": "query", "schema": {
        "type": "integer", "minimum": 0, "exclusiveMinimum": True, "nullable": True, "example": 3, "x-foo": 1,
    }}  # fmt: skip
    schema = (
        compile_document(doc({"/a": {"get": op(operationId="a", parameters=[param])}})).tools[0].input_schema
    )
    assert schema["properties"]["n"] == {"type": ["integer", "null"], "exclusiveMinimum": 0}


def test_malformed_schemas_are_repaired_and_reported_instead_of_failing() -> None:
    body = {"type": "object", "properties": {
        "a": {"type": "int"}, "b": {"type": "string", "pattern": "(?<!x"}, "c": {"type": "string", "required": True},
        "d": {"type": "string", "minLength": 1.0, "maxLength": -1}, "e": "not a schema", "f": {"type": "file"},
    }}  # fmt: skip
    spec = compile_document(
        doc(
            {
                "/a": {
                    "post": op(
                        operationId="a", requestBody={"content": {"application/json": {"schema": body}}}
                    )
                }
            }
        )
    )
    props = spec.tools[0].input_schema["properties"]["body"]["properties"]
    Draft202012Validator.check_schema(spec.tools[0].input_schema)
    assert props["a"] == {"type": "integer"}
    assert props["b"] == {"type": "string"}
    assert props["c"] == {"type": "string"}
    assert props["d"] == {"type": "string", "minLength": 1}
    assert props["e"] == {}
    assert props["f"] == {"type": "string", "contentEncoding": "base64"}
    assert {"InvalidPattern", "InvalidSchema"} <= {d.code for d in spec.diagnostics}


def test_unresolvable_references_are_reported_and_the_operation_is_kept() -> None:
    spec = compile_document(doc({"/a": {"post": op(operationId="a", parameters=[{"$ref": "#/components/parameters/missing"}],
        requestBody={"content": {"application/json": {"schema": {"$ref": "other.yaml#/Thing"}}}})}}))  # fmt: skip
    assert [t.name for t in spec.tools] == ["a"]
    assert spec.tools[0].input_schema["properties"]["body"] == {}
    warnings = [d for d in spec.diagnostics if d.code == "UnresolvableRef"]
    assert len(warnings) == 2
    assert "external reference" in str(warnings[1])


def test_request_bodies_pick_json_first_then_forms_text_and_binary() -> None:
    def body_of(content: dict[str, Any]) -> tuple[str, Any]:
        spec = compile_document(doc({"/a": {"post": op(operationId="a", requestBody={"content": content})}}))
        route = spec.tools[0].route.body
        assert route is not None
        return route.media_type, spec.tools[0].input_schema["properties"]["body"]

    obj = {"schema": {"type": "object"}}
    assert body_of({"application/xml": obj, "application/vnd.api+json": obj})[0] == "application/vnd.api+json"
    assert (
        body_of({"text/plain": obj, "application/x-www-form-urlencoded": obj})[0]
        == "application/x-www-form-urlencoded"
    )
    assert body_of({"application/xml": obj}) == (
        "application/xml",
        {"type": "string", "description": "The request body, sent as application/xml."},
    )
    media, schema = body_of({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}})
    assert media == "application/octet-stream"
    assert schema["contentEncoding"] == "base64"


def test_servers_and_security_requirements_are_recorded(demo_spec_text: str) -> None:
    spec = compile_spec(demo_spec_text)
    assert spec.servers[0].url == "https://{region}.tasks.example.com/v1"
    assert spec.servers[0].variables == (("region", "eu", ("eu", "us")),)
    assert spec.tool("getTask").route.security == ((("apiKey", ()),),)
    scheme = spec.scheme("apiKey")
    assert scheme is not None
    assert (scheme.type, scheme.location, scheme.param_name) == ("apiKey", "header", "X-API-Key")


def test_descriptions_combine_summary_and_description_and_are_bounded() -> None:
    spec = compile_document(doc({
        "/a": {"get": op(operationId="a", summary="Get A", description="Long text. " * 500, deprecated=True)},
        "/b": {"get": op(operationId="b", tags=["things"])},
    }))  # fmt: skip
    a, b = spec.tools
    assert a.description.startswith("Deprecated. Get A\n\nLong text.")
    assert len(a.description) <= 1024
    assert a.description.endswith("…")
    assert a.title == "Get A"
    assert b.description == "GET /b (things)"
    assert a.annotations == {
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": True,
    }


def test_swagger_2_documents_are_converted() -> None:
    swagger = {
        "swagger": "2.0", "info": {"title": "s", "version": "1"}, "host": "api.example.com", "basePath": "/v2",
        "schemes": ["http", "https"], "consumes": ["application/json"],
        "securityDefinitions": {"basic": {"type": "basic"}},
        "definitions": {"Pet": {"type": "object", "properties": {"name": {"type": "string", "x-nullable": True}}}},
        "paths": {
            "/pets": {"post": {"operationId": "addPet", "parameters": [
                {"name": "pet", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Pet"}},
                {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}, "collectionFormat": "pipes"},
            ], "responses": {"200": {"description": "ok"}}}},
            "/pets/{id}/photo": {"post": {"operationId": "upload", "consumes": ["multipart/form-data"], "parameters": [
                {"name": "id", "in": "path", "required": True, "type": "integer"},
                {"name": "file", "in": "formData", "type": "file", "required": True},
                {"name": "note", "in": "formData", "type": "string"},
            ], "responses": {"200": {"description": "ok"}}}},
        },
    }  # fmt: skip
    spec = compile_document(swagger)
    assert spec.source_format == "swagger 2.0"
    assert spec.servers[0].url == "https://api.example.com/v2"
    add, upload = spec.tools
    assert add.input_schema["properties"]["body"] == {"$ref": "#/$defs/Pet"}
    assert add.input_schema["$defs"]["Pet"]["properties"]["name"]["type"] == ["string", "null"]
    assert dict(add.route.params)["tags"].style == "pipeDelimited"
    assert upload.route.body is not None
    assert upload.route.body.media_type == "multipart/form-data"
    assert upload.route.body.encoding == (("file", "application/octet-stream"),)
    assert upload.input_schema["properties"]["body"]["required"] == ["file"]
    assert spec.scheme("basic") is not None
    assert spec.scheme("basic").scheme == "basic"


def test_openapi_31_schemas_pass_through(tmp_path: Any) -> None:
    spec = compile_document({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"post": op(
        operationId="a", requestBody={"content": {"application/json": {"schema": {
            "type": ["object", "null"], "properties": {"n": {"type": "number", "exclusiveMinimum": 0}},
            "unevaluatedProperties": False,
        }}}})}}})  # fmt: skip
    body = spec.tools[0].input_schema["properties"]["body"]
    assert body == {
        "type": ["object", "null"],
        "properties": {"n": {"type": "number", "exclusiveMinimum": 0}},
        "unevaluatedProperties": False,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the document is empty"),
        ("{not json", "invalid JSON at line 1, column 2"),
        ("a: [1, 2\nb: c", "invalid YAML at line 2"),
        ("- 1\n- 2", "the top level is a list, not a mapping"),
        ("title: x", "no 'openapi' or 'swagger' field"),
        ("openapi: 4.0.0", "unsupported OpenAPI version '4.0.0'"),
        ("swagger: '1.2'", "unsupported Swagger version '1.2'"),
    ],
)
def test_input_that_is_not_a_spec_raises_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)) as info:
        compile_spec(text, source="spec.yaml")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("spec.yaml: ")


def test_yaml_dates_and_numeric_keys_stay_json_safe() -> None:
    text = (
        "openapi: 3.0.0\ninfo: {title: t, version: 2024-01-01}\npaths:\n  /a:\n    get:\n      operationId: a\n      parameters:\n"
        "        - {name: d, in: query, schema: {type: string, default: 2024-01-01}}\n      responses: {200: {description: ok}}\n"
    )
    spec = compile_spec(text)
    assert spec.version == "2024-01-01"
    assert spec.tools[0].input_schema["properties"]["d"]["default"] == "2024-01-01"
    json.dumps([t.to_dict() for t in spec.tools], allow_nan=False)
