"""Property: any document is compiled or refused with one SpecError; nothing else escapes the compiler.

``TOOLMESH_PROPERTY_EXAMPLES`` sets the cases (default 300).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from toolmesh.openapi import ArgumentError, SpecError, compile_spec
from toolmesh.openapi.request import build_request

EXAMPLES = int(os.environ.get("TOOLMESH_PROPERTY_EXAMPLES", "300"))
KEYS = ["type", "properties", "items", "$ref", "required", "allOf", "oneOf", "anyOf", "enum", "format",
        "parameters", "requestBody", "responses", "content", "schema", "in", "name", "style", "explode",
        "operationId", "servers", "url", "variables", "components", "schemas", "nullable", "additionalProperties",
        "default", "description", "tags", "security", "securitySchemes", "discriminator", "const"]  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from(
        [
            "object",
            "array",
            "string",
            "integer",
            "path",
            "query",
            "header",
            "cookie",
            "body",
            "application/json",
            "#/components/schemas/A",
            "#/",
            "#/paths",
            "form",
            "{id}",
        ]
    )
    | st.text(max_size=6)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=25,
)
locations = st.sampled_from(["path", "query", "header", "cookie", "body", "formData"]) | scalars
parameters = st.fixed_dictionaries(
    {"name": st.sampled_from(["id", "x", "filter[a]", "$top"]) | scalars, "in": locations},
    optional={
        "schema": values,
        "style": st.sampled_from(["form", "simple", "label", "matrix", "deepObject", "pipeDelimited"])
        | scalars,
        "explode": scalars,
        "required": scalars,
        "content": st.dictionaries(st.sampled_from(["application/json", "text/plain"]), values, max_size=2),
        "type": st.sampled_from(["string", "array", "file", "integer"]) | scalars,
        "items": values,
        "collectionFormat": st.sampled_from(["csv", "multi", "tsv"]) | scalars,
    },
)
media = st.sampled_from(
    ["application/json", "multipart/form-data", "application/x-www-form-urlencoded", "text/plain"]
)
operations = st.fixed_dictionaries(
    {},
    optional={
        "operationId": st.sampled_from(["a", "b", "a"]) | scalars,
        "parameters": st.lists(parameters | values, max_size=3) | values,
        "requestBody": st.fixed_dictionaries(
            {
                "content": st.dictionaries(
                    media, st.fixed_dictionaries({"schema": values}) | values, max_size=2
                )
            }
        )
        | values,
        "responses": st.dictionaries(st.sampled_from(["200", "201", "default"]), values, max_size=2) | values,
        "tags": st.lists(scalars, max_size=2) | values,
        "consumes": st.lists(media, max_size=2) | values,
    },
)
paths = st.dictionaries(
    st.sampled_from(["/a", "/a/{id}", "/{x}/{y}", "a", "/"]),
    st.dictionaries(st.sampled_from(["get", "post", "put"]), operations, max_size=2)
    | st.dictionaries(st.sampled_from(["get", "parameters", "$ref"]), values, max_size=2),
    max_size=3,
)
documents = st.fixed_dictionaries(
    {
        "openapi": st.sampled_from(["3.0.0", "3.1.0"]),
        "info": st.just({"title": "t", "version": "1"}),
        "paths": paths | values,
    },
    optional={
        "components": st.fixed_dictionaries(
            {"schemas": st.dictionaries(st.sampled_from(["A", "B"]), values)}
        ),
        "servers": values,
    },
) | st.fixed_dictionaries({"swagger": st.just("2.0"), "paths": paths, "definitions": values})


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@example(
    document={"swagger": "2.0", "paths": {"/a": {"get": {"parameters": True}}}}, arguments={}
)  # was a TypeError
@example(
    document={"openapi": "3.0.0", "paths": {"/a": {"get": {"tags": True}}}}, arguments={}
)  # was a TypeError
@example(
    document={"swagger": "2.0", "consumes": 3, "schemes": "http", "host": "h", "paths": {}}, arguments={}
)
@given(
    document=documents,
    arguments=st.dictionaries(st.sampled_from(["id", "x", "y", "body", "filter_a"]), values),
)
def test_any_document_compiles_or_is_one_spec_error_and_any_call_builds_or_is_an_argument_error(
    document: dict[str, Any], arguments: dict[str, Any]
) -> None:
    try:
        spec = compile_spec(json.dumps(document))
    except SpecError as error:
        refusal = str(error)
    else:
        for tool in spec.tools:
            json.dumps(tool.to_mcp())
            with contextlib.suppress(ArgumentError):
                build_request(tool, arguments, base_url="http://upstream.example/v1")
        return
    assert "\n" not in refusal
