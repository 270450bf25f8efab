"""Tool call → HTTP request: argument validation and every serialization style.

Expected strings come from the style examples of the OpenAPI 3.1 specification (§4.8.12.4.3),
where ``color`` is ``"blue"``, ``["blue", "black", "brown"]`` or ``{"R": 100, "G": 200, "B": 150}``.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from toolmesh.openapi import ArgumentError, CompiledSpec, ParamRoute, compile_document, compile_spec
from toolmesh.openapi.request import build_request, path_value, query_pairs

PRIMITIVE, ARRAY, OBJECT = "blue", ["blue", "black", "brown"], {"R": 100, "G": 200, "B": 150}


@pytest.fixture(scope="module")
def demo(demo_spec_text: str) -> CompiledSpec:
    return compile_spec(demo_spec_text)


@pytest.mark.parametrize(
    ("style", "explode", "value", "expected"),
    [
        ("simple", False, PRIMITIVE, "blue"),
        ("simple", False, ARRAY, "blue,black,brown"),
        ("simple", False, OBJECT, "R,100,G,200,B,150"),
        ("simple", True, OBJECT, "R=100,G=200,B=150"),
        ("label", False, PRIMITIVE, ".blue"),
        ("label", False, ARRAY, ".blue,black,brown"),
        ("label", True, ARRAY, ".blue.black.brown"),
        ("label", False, OBJECT, ".R,100,G,200,B,150"),
        ("label", True, OBJECT, ".R=100.G=200.B=150"),
        ("matrix", False, PRIMITIVE, ";color=blue"),
        ("matrix", False, ARRAY, ";color=blue,black,brown"),
        ("matrix", True, ARRAY, ";color=blue;color=black;color=brown"),
        ("matrix", False, OBJECT, ";color=R,100,G,200,B,150"),
        ("matrix", True, OBJECT, ";R=100;G=200;B=150"),
    ],
)
def test_path_styles_follow_the_specification(style: str, explode: bool, value: Any, expected: str) -> None:
    assert path_value(ParamRoute("path", "color", style, explode), value) == expected


@pytest.mark.parametrize(
    ("style", "explode", "value", "expected"),
    [
        ("form", True, PRIMITIVE, "color=blue"),
        ("form", False, ARRAY, "color=blue,black,brown"),
        ("form", True, ARRAY, "color=blue&color=black&color=brown"),
        ("form", False, OBJECT, "color=R,100,G,200,B,150"),
        ("form", True, OBJECT, "R=100&G=200&B=150"),
        ("spaceDelimited", False, ARRAY, "color=blue%20black%20brown"),
        ("pipeDelimited", False, ARRAY, "color=blue|black|brown"),
        ("deepObject", True, OBJECT, "color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150"),
    ],
)
def test_query_styles_follow_the_specification(style: str, explode: bool, value: Any, expected: str) -> None:
    pairs = query_pairs(ParamRoute("query", "color", style, explode), value)
    assert "&".join(f"{k}={v}" for k, v in pairs) == expected


def test_query_values_are_percent_encoded_unless_reserved_characters_are_allowed() -> None:
    assert query_pairs(ParamRoute("query", "q", "form", True), "a b&c/d") == [("q", "a%20b%26c%2Fd")]
    assert query_pairs(ParamRoute("query", "q", "form", True, allow_reserved=True), "a/b?c") == [
        ("q", "a/b?c")
    ]


def test_a_request_uses_path_query_header_and_cookie_parameters(demo: CompiledSpec) -> None:
    request = build_request(demo.tool("listTasks"), {
        "projectId": "apollo", "limit": 5, "status": ["todo", "doing"], "filter": {"assignee": "ada"}, "X-Request-Id": "r1",
    })  # fmt: skip
    assert request.method == "GET"
    assert request.url == (
        "https://eu.tasks.example.com/v1/projects/apollo/tasks?limit=5&status=todo,doing&filter%5Bassignee%5D=ada"
    )
    assert request.headers == (("X-Request-Id", "r1"),)
    assert request.body is None
    me = build_request(demo.tool("whoAmI"), {"session": "s 1"})
    assert me.header("Cookie") == "session=s%201"


def _one_path_operation(template: str, *parameters: dict[str, Any]) -> CompiledSpec:
    operation = {"operationId": "get", "responses": {}, "parameters": list(parameters)}
    return compile_document({"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
                             "paths": {template: {"get": operation}}})  # fmt: skip


@pytest.mark.parametrize(
    ("name", "segment"),
    [("..", "%2E%2E"), (".", "%2E"), ("...", "..."), ("../admin", "..%2Fadmin"), ("a..b", "a..b")],
)
def test_a_dot_segment_argument_cannot_climb_out_of_the_template(name: str, segment: str) -> None:
    spec = _one_path_operation("/files/{name}/meta", {"name": "name", "in": "path", "required": True,
                                                      "schema": {"type": "string"}})  # fmt: skip
    url = build_request(spec.tools[0], {"name": name}, base_url="http://h/v1").url
    assert url == f"http://h/v1/files/{segment}/meta"


def test_label_and_list_values_that_make_a_dot_segment_are_encoded() -> None:
    spec = _one_path_operation(
        "/a/{p}/{q}/b",
        {"name": "p", "in": "path", "required": True, "style": "label", "schema": {"type": "string"}},
        {
            "name": "q",
            "in": "path",
            "required": True,
            "schema": {"type": "array", "items": {"type": "string"}},
        },
    )
    url = build_request(spec.tools[0], {"p": ".", "q": [".."]}, base_url="http://h").url
    assert url == "http://h/a/%2E%2E/%2E%2E/b"


def test_server_variables_and_base_url_override(demo: CompiledSpec) -> None:
    tool = demo.tool("getTask")
    assert build_request(tool, {"projectId": "p", "taskId": 1}, server_variables={"region": "us"}).url == (
        "https://us.tasks.example.com/v1/projects/p/tasks/1"
    )
    assert build_request(
        tool, {"projectId": "p", "taskId": 1}, base_url="http://127.0.0.1:9000/api/"
    ).url == ("http://127.0.0.1:9000/api/projects/p/tasks/1")


def test_a_relative_server_url_is_resolved_against_the_base_url() -> None:
    spec = compile_document({"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": "/v2"}],
                             "paths": {"/a": {"get": {"operationId": "a", "responses": {}}}}})  # fmt: skip
    assert build_request(spec.tools[0], {}, base_url="http://h:1").url == "http://h:1/v2/a"


def test_json_form_and_multipart_bodies(demo: CompiledSpec) -> None:
    created = build_request(
        demo.tool("createTask"), {"projectId": "p", "body": {"title": "Ship", "assignee": None}}
    )
    assert created.header("Content-Type") == "application/json"
    assert created.body == b'{"title":"Ship","assignee":null}', "explicit nulls are kept"

    updated = build_request(
        demo.tool("updateTask"), {"projectId": "p", "taskId": 2, "body": {"title": "a b", "status": "done"}}
    )
    assert updated.method == "PATCH"
    assert updated.header("Content-Type") == "application/x-www-form-urlencoded"
    assert updated.body == b"title=a%20b&status=done"

    attached = build_request(demo.tool("attachFile"), {
        "projectId": "p", "taskId": 2, "body": {"file": base64.b64encode(b"\x00PNG").decode(), "comment": "logo"},
    })  # fmt: skip
    content_type = attached.header("Content-Type")
    assert content_type is not None
    assert content_type.startswith("multipart/form-data; boundary=toolmesh-")
    boundary = content_type.split("boundary=")[1]
    assert attached.body is not None
    parts = attached.body.split(f"--{boundary}".encode())
    assert (
        b'name="file"; filename="file"\r\nContent-Type: application/octet-stream\r\n\r\n\x00PNG\r\n'
        in parts[1]
    )
    assert b'name="comment"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nlogo\r\n' in parts[2]
    assert parts[-1] == b"--\r\n"


def test_invalid_arguments_are_rejected_with_every_problem_named(demo: CompiledSpec) -> None:
    with pytest.raises(ArgumentError) as info:
        build_request(
            demo.tool("createTask"), {"projectId": "Not Valid!", "body": {"status": "lost"}, "extra": 1}
        )
    message = str(info.value)
    assert message.startswith("invalid arguments for tool createTask: ")
    assert "arguments: Additional properties are not allowed ('extra' was unexpected)" in message
    assert "body: 'title' is a required property" in message
    assert "body.status: 'lost' is not one of ['todo', 'doing', 'done']" in message
    assert "projectId: 'Not Valid!' does not match" in message
    assert len(info.value.problems) == 4


def test_missing_required_arguments_and_bad_base64_are_argument_errors(demo: CompiledSpec) -> None:
    with pytest.raises(ArgumentError, match="'projectId' is a required property"):
        build_request(demo.tool("listTasks"), None)
    with pytest.raises(ArgumentError, match=r"body.file: not valid base64"):
        build_request(demo.tool("attachFile"), {"projectId": "p", "taskId": 1, "body": {"file": "***"}})
