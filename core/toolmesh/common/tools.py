"""An MCP tool definition, built in one place for every process that shows tools.

The wire form (:func:`wire`, camelCase, what ``tools/list`` carries) is the canonical one: the
compiler's digest covers it. :func:`definition` is the same tool as the MCP SDK's model, for the
servers that answer ``tools/list`` through the SDK. Behaviour hints are spelled once, in :func:`hints`.

Pure and light: the compiler imports this module, and the MCP SDK (half a second to import) is
loaded only when an SDK model is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp import types


def hints(
    *, read_only: bool, destructive: bool, idempotent: bool, open_world: bool = True
) -> dict[str, bool]:
    """A tool's behaviour hints (MCP ``ToolAnnotations``), in wire form."""
    return {
        "readOnlyHint": read_only,
        "destructiveHint": destructive,
        "idempotentHint": idempotent,
        "openWorldHint": open_world,
    }


def wire(
    name: str,
    *,
    description: str,
    input_schema: dict[str, Any],
    title: str | None = None,
    annotations: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """The tool as ``tools/list`` shows it. No title: no key; no annotations (None): no key."""
    out: dict[str, Any] = {"name": name, "description": description, "inputSchema": input_schema}
    if title:
        out["title"] = title
    if annotations is not None:
        out["annotations"] = dict(annotations)
    return out


def definition(
    name: str,
    *,
    description: str,
    input_schema: dict[str, Any],
    title: str | None = None,
    annotations: Mapping[str, bool] | None = None,
) -> types.Tool:
    """The same tool as :func:`wire`, as the MCP SDK's ``Tool``."""
    return sdk(
        wire(name, description=description, input_schema=input_schema, title=title, annotations=annotations)
    )


def sdk(form: Mapping[str, Any]) -> types.Tool:
    """A tool's wire form (from :func:`wire`) as the MCP SDK's ``Tool``."""
    from mcp import types  # here, not at the top: the compiler imports this module and stays light

    return types.Tool.model_validate(form)
