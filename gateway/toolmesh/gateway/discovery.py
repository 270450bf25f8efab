"""Local mode's discovery: the tools a folder does not spell out, found by starting the category
servers that serve them, before the gateway listens.

The tools of ``spec.mcp`` and ``spec.stdio`` integrations, and of documents at
``spec.openapi.spec.url``, are known only once someone reaches the server or fetches the document.
A category server does both when it starts (federation with the integration's credentials; the
fetch within the compiler's budget, ``toolmesh.catalog.fetch``) and reports what it serves in its
``/readyz`` (``discoveredTools``), which the gateway indexes with the server's own definitions
(``GatewayCatalog.learn``). So the names searched are the names served, by construction, and there
is one path for every kind: the one a category woken by a call takes as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from toolmesh.catalog.folder import Catalog, Entry
from toolmesh.gateway.catalog import GatewayCatalog
from toolmesh.gateway.supervisor import CategoryUnavailable, LocalCategories


def served_only(entry: Entry) -> bool:
    """Are the integration's tools known only to its category server (a federated server, a URL)?"""
    obj = entry.obj
    if obj is None or entry.error is not None:
        return False
    return obj.spec.openapi is None or (entry.spec is None and entry.spec_url is not None)


def pending(loaded: Catalog) -> dict[str, list[str]]:
    """Category -> its integrations whose tools only its category server can discover."""
    wanted: dict[str, list[str]] = {}
    for entry in loaded.entries:
        if served_only(entry):
            assert entry.obj is not None
            wanted.setdefault(entry.obj.spec.category, []).append(entry.name)
    return wanted


def not_started(category: str, reason: str) -> str:
    """The problem of an integration whose category server did not start to discover its tools."""
    return f"its tools are not indexed: its category server ({category}) did not start: {reason}"


async def discover(
    categories: LocalCategories, catalog: GatewayCatalog, wanted: Mapping[str, Sequence[str]]
) -> None:
    """Start the category server of each category in ``wanted`` (it stays up until idle); each one
    reports its tools and problems through ``categories.on_start``. A server that does not start
    makes each of its pending integrations a problem that says why."""

    async def start(category: str) -> None:
        try:
            await categories.client(category)
        except CategoryUnavailable as exc:
            for name in wanted[category]:
                catalog.note_served(name, not_started(category, str(exc)))

    await asyncio.gather(*(start(category) for category in sorted(wanted)))
