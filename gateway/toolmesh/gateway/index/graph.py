"""A tool-relationship graph within each integration, for next-tool suggestions (pure).

Two tools of one integration are related when one returns what the other needs (the identifier
fields of a response, openapi/responses.py, filling another's identifier arguments: ``createTask``
returns an ``id``, ``getTask`` takes ``taskId``), or when they act on the same resource: they share
identifier arguments (``projectId``, ``owner`` + ``repo``: what a list or create operation returns
and a get, update or delete operation needs) or the resource words of their names
(``listTasks``, ``getTask``, ``deleteTask``). Edges are computed on demand from three small sets per
tool (:func:`features`), themselves worked out the first time a tool of that integration is
described, so the graph costs no build time or memory for integrations nobody describes and
follows the catalog as it changes.

It is used by ``describe_tools`` to suggest the next tools, and by searches for one thing only:
a found tool's prerequisites (:func:`prerequisites`: the tools of its integration whose response
fills identifier arguments it requires) are shown beside it, so that a multi-step task comes back
with the step the request does not name ("find flights" needs the airport lookup that gives the
``skyId``). Measured on NESTFUL, the dev set with output schemas, in the union of the dev sets:
recall@10 +0.03, complete@10 +0.05, the other sets unchanged (docs/design/routing.md).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

#: Argument names that identify a resource, whatever the API: ``*id``, ``*key``, ``*slug`` ...
_IDENTIFIER = re.compile(r"(id|ids|uuid|guid|key|slug|number|num|code|handle|name)$")
_NAMED_RESOURCES = frozenset({"owner", "repo", "org", "user", "username", "account", "project", "team"})
#: Words of operation names that say what is done, not to what.
_VERBS = frozenset(
    [
        "get",
        "list",
        "create",
        "update",
        "delete",
        "patch",
        "put",
        "post",
        "add",
        "remove",
        "set",
        "search",
        "find",
        "fetch",
        "retrieve",
        "read",
        "write",
        "upsert",
        "replace",
        "insert",
        "query",
        "by",
        "for",
        "all",
        "of",
        "the",
        "a",
        "an",
        "to",
        "from",
        "with",
        "new",
        "my",
        "me",
    ]
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


class Related(Protocol):
    name: str
    integration: str

    @property
    def keys(self) -> frozenset[str]: ...

    @property
    def words(self) -> frozenset[str]: ...

    @property
    def produces(self) -> frozenset[str]: ...


#: One object per distinct set: most tools of an API share theirs ({owner, repo}), and a catalogue of
#: 50,000 tools keeps two sets per tool.
_SHARED: dict[frozenset[str], frozenset[str]] = {}


#: The one empty set (each ``frozenset()`` call makes a new 216-byte object).
EMPTY: frozenset[str] = frozenset()


def _shared(values: Iterable[str]) -> frozenset[str]:
    found = frozenset(sys.intern(v) for v in values)
    return _SHARED.setdefault(found, found) if found else EMPTY


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _identifies(normal: str) -> bool:
    """Does a normalised argument or field name identify a resource (``taskid``, ``owner``)?"""
    return bool(_IDENTIFIER.search(normal)) or normal in _NAMED_RESOURCES


def identifier_arguments(schema: Mapping[str, Any]) -> frozenset[str]:
    """The required arguments that identify a resource, normalised (``project_id`` = ``projectId``)."""
    required = schema.get("required") or []
    props = schema.get("properties") or {}
    out = set()
    for name in required:
        if not isinstance(name, str) or name == "body":
            continue
        kind = (props.get(name) or {}).get("type") if isinstance(props.get(name), dict) else None
        normal = _normal(name)
        if kind in (None, "string", "integer") and _identifies(normal):
            out.add(normal)
    return _shared(out)


def resource_words(tool_name: str) -> frozenset[str]:
    """The resource words of a tool's operation name (``tasks__getTaskAttachments`` → task, attachment)."""
    operation = tool_name.rpartition("__")[2] or tool_name
    words = set()
    for word in _WORD.findall(operation.replace("-", "_")):
        lower = word.lower()
        if lower in _VERBS or len(lower) < 3:
            continue
        words.add(lower[:-1] if lower.endswith("s") and len(lower) > 3 else lower)
    return _shared(words)


#: Returned fields that name the operation's own resource: ``id`` of ``createTask`` is a task id.
_BARE = frozenset({"id", "uuid", "guid", "key", "slug", "number", "num", "code", "handle"})


def identifier_fields(fields: Iterable[str]) -> frozenset[str]:
    """The returned fields (openapi/responses.py) that identify something, normalised."""
    normal = (_normal(f) for f in fields)
    return _shared(f for f in normal if f and _identifies(f))


def produced_keys(fields: frozenset[str], words: frozenset[str]) -> frozenset[str]:
    """The identifier arguments a tool's response can fill: a bare ``id`` of ``createTask`` is a
    ``taskid``, a ``projectId`` field a ``projectid``."""
    out: set[str] = set()
    for field in fields:
        if field in _BARE:
            out.update(word + field for word in words)
        else:
            out.add(field)
    return _shared(out)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _feeds(produces: frozenset[str], keys: frozenset[str]) -> float:
    """Share of another tool's identifier arguments this tool's response provides."""
    return len(produces & keys) / len(keys) if produces and keys else 0.0


def related(tool: Related, candidates: Iterable[Related], limit: int = 5) -> list[str]:
    """Tools of the same integration that act on the same resource, closest first; a tool whose
    identifier arguments this one's response provides (list/create, then get/update) comes first."""
    scored = []
    for other in candidates:
        if other.name == tool.name or other.integration != tool.integration:
            continue
        score = (
            2 * _feeds(tool.produces, other.keys)
            + 2 * _jaccard(tool.keys, other.keys)
            + _jaccard(tool.words, other.words)
        )
        if score > 0:
            scored.append((-score, other.name))
    return [name for _, name in sorted(scored)[:limit]]


def _fills(produces: frozenset[str], key: str) -> bool:
    """Does a response with these identifiers fill the argument ``key``? Exactly, or as its last
    part: a ``skyid`` fills ``originskyid`` and ``destinationskyid`` (at least four letters, so a
    bare ``id`` fills nothing by itself)."""
    return key in produces or any(len(p) >= 4 and key.endswith(p) for p in produces)


def prerequisites(tool: Related, candidates: Iterable[Related], limit: int = 2) -> list[str]:
    """Tools of the same integration whose response fills identifier arguments ``tool`` requires
    (``searchAirport`` returns the ``skyId`` that ``searchFlights`` takes as ``originSkyId``): the
    steps an agent must run first. Those filling the most arguments first, then by name."""
    keys = tool.keys
    if not keys:
        return []
    scored = []
    for other in candidates:
        if other.name == tool.name or other.integration != tool.integration or not other.produces:
            continue
        filled = sum(1 for key in keys if _fills(other.produces, key))
        if filled:
            scored.append((-filled, other.name))
    return [name for _, name in sorted(scored)[:limit]]


def with_prerequisites(ranked: Sequence[str], first: Callable[[str], Sequence[str]], depth: int) -> list[str]:
    """``ranked`` with each of its first ``depth`` tools followed by its prerequisites (``first``)
    that are not ranked above it; a prerequisite ranked lower moves up beside it. The rest follows."""
    out: list[str] = []
    seen: set[str] = set()
    for position, name in enumerate(ranked):
        if name in seen:
            continue
        out.append(name)
        seen.add(name)
        if position < depth:
            for before in first(name):
                if before not in seen:
                    out.append(before)
                    seen.add(before)
    return out
