"""OpenAPI → MCP tools, and tool calls back into HTTP requests. Pure: no I/O, no clock.

The one compiler that the operator (validation, digests), the category server (serving and
calling) and the gateway (indexing) share, so that all three agree on every tool:

>>> spec = compile_spec(text, CompileOptions(prefix="github"))
>>> spec.tools[0].to_mcp()                      # what tools/list shows
>>> build_request(spec.tools[0], {"owner": ...}) # what the upstream receives
"""

from toolmesh.openapi.compiler import canonical_json, compile_document, compile_spec
from toolmesh.openapi.document import parse
from toolmesh.openapi.errors import ArgumentError, SpecError
from toolmesh.openapi.model import (
    BodyRoute,
    CompiledSpec,
    CompileOptions,
    Diagnostic,
    Level,
    ParamRoute,
    Route,
    SecurityScheme,
    Selector,
    Server,
    Tool,
)  # fmt: skip

__all__ = [
    "ArgumentError",
    "BodyRoute",
    "CompileOptions",
    "CompiledSpec",
    "Diagnostic",
    "Level",
    "ParamRoute",
    "Route",
    "SecurityScheme",
    "Selector",
    "Server",
    "SpecError",
    "Tool",
    "canonical_json",
    "compile_document",
    "compile_spec",
    "parse",
]
