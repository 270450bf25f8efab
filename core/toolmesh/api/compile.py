"""How an ``MCPIntegration`` is compiled: the one mapping from its spec to the compiler's options.

The operator, the category server and the gateway all call :func:`compile_options`, so they agree
on every tool name.
"""

from __future__ import annotations

from toolmesh.api.integration import MCPIntegration, OperationSelector
from toolmesh.openapi.model import CompileOptions, Selector


def _selector(selector: OperationSelector | None) -> Selector | None:
    if selector is None:
        return None
    return Selector(
        operations=tuple(selector.operations),
        tags=tuple(selector.tags),
        methods=tuple(selector.methods),
        paths=tuple(selector.paths),
    )


def compile_options(integration: MCPIntegration) -> CompileOptions:
    """How the compiler turns this integration's OpenAPI document into tools.

    The tool prefix is ``spec.toolPrefix``, else the object's name; the operator, the category
    server and the gateway all call this, so they agree on every tool name.
    """
    spec = integration.spec
    source = spec.openapi
    return CompileOptions(
        prefix=spec.tool_prefix or integration.metadata.name or None,
        include=_selector(source.include) if source else None,
        exclude=_selector(source.exclude) if source else None,
        read_only=source.read_only if source else False,
    )
