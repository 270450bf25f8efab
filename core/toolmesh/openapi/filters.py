"""Which operations become tools: include/exclude selectors and the read-only switch."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from toolmesh.openapi.model import CompileOptions, Selector

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def matches(
    selector: Selector, operation_id: str | None, method: str, path: str, tags: Sequence[str]
) -> bool:
    """True when every criterion the selector sets matches the operation."""
    if selector.operations and not (
        operation_id and any(fnmatchcase(operation_id, g) for g in selector.operations)
    ):
        return False
    if selector.tags and not set(selector.tags).intersection(tags):
        return False
    if selector.methods and method.upper() not in selector.methods:
        return False
    return not (selector.paths and not any(fnmatchcase(path, g) for g in selector.paths))


def selected(
    options: CompileOptions, operation_id: str | None, method: str, path: str, tags: Sequence[str]
) -> bool:
    """Whether an operation becomes a tool under ``options``."""
    if options.read_only and method.upper() not in SAFE_METHODS:
        return False
    if options.include is not None and not matches(options.include, operation_id, method, path, tags):
        return False
    return options.exclude is None or not matches(options.exclude, operation_id, method, path, tags)
