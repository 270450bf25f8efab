"""Errors of the OpenAPI compiler. Each renders as one line that says what is wrong and where."""

from __future__ import annotations


class SpecError(Exception):
    """The document cannot be compiled at all: not JSON/YAML, not an OpenAPI document, no paths."""


class ArgumentError(ValueError):
    """Tool arguments do not match the tool's input schema, or cannot be serialized into a request."""

    def __init__(self, tool: str, problems: list[str]) -> None:
        self.tool = tool
        self.problems = problems
        super().__init__(f"invalid arguments for tool {tool}: " + "; ".join(problems))
