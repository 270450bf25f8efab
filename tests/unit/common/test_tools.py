"""The one builder of an MCP tool definition: its wire form and the SDK model agree."""

from __future__ import annotations

import subprocess
import sys

from mcp import types

from toolmesh.common import tools

SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}


def test_hints_spell_the_four_annotations_in_camel_case() -> None:
    assert tools.hints(read_only=True, destructive=False, idempotent=True) == {
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": True,
    }
    assert (
        tools.hints(read_only=False, destructive=True, idempotent=False, open_world=False)["openWorldHint"]
        is False
    )


def test_the_wire_form_has_a_title_and_annotations_only_when_given() -> None:
    bare = tools.wire("pets_get", description="Get a pet.", input_schema=SCHEMA)
    assert bare == {"name": "pets_get", "description": "Get a pet.", "inputSchema": SCHEMA}
    full = tools.wire(
        "pets_get",
        description="Get a pet.",
        input_schema=SCHEMA,
        title="Get pet",
        annotations=tools.hints(read_only=True, destructive=False, idempotent=True),
    )
    assert full["title"] == "Get pet"
    assert full["annotations"]["readOnlyHint"] is True
    assert list(full) == ["name", "description", "inputSchema", "title", "annotations"]


def test_an_empty_title_is_left_out_and_empty_annotations_are_kept() -> None:
    out = tools.wire("t", description="", input_schema=SCHEMA, title="", annotations={})
    assert "title" not in out
    assert out["annotations"] == {}


def test_the_annotations_are_copied_not_shared() -> None:
    given = tools.hints(read_only=True, destructive=False, idempotent=True)
    out = tools.wire("t", description="", input_schema=SCHEMA, annotations=given)
    given["readOnlyHint"] = False
    assert out["annotations"]["readOnlyHint"] is True


def test_the_sdk_model_serializes_back_to_the_wire_form() -> None:
    hints = tools.hints(read_only=False, destructive=True, idempotent=True)
    tool = tools.definition(
        "pets_delete", description="Delete a pet.", input_schema=SCHEMA, title="Delete", annotations=hints
    )
    assert isinstance(tool, types.Tool)
    assert tool.annotations is not None
    assert tool.annotations.destructive_hint is True
    assert tool.annotations.read_only_hint is False
    assert tool.model_dump(by_alias=True, exclude_none=True) == tools.wire(
        "pets_delete", description="Delete a pet.", input_schema=SCHEMA, title="Delete", annotations=hints
    )


def test_without_title_or_annotations_the_sdk_model_has_none() -> None:
    tool = tools.definition("t", description="d", input_schema=SCHEMA)
    assert tool.title is None
    assert tool.annotations is None


def test_importing_the_builder_does_not_import_the_mcp_sdk() -> None:
    code = "import sys, toolmesh.common.tools, toolmesh.openapi; print('mcp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
