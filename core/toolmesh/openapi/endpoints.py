"""Where an operation's requests go and how they authenticate: servers and security, as the document says.

Pure readers of the document's ``servers``, ``security`` and ``components.securitySchemes``
(also an operation's or path item's own); a malformed entry is left out, never fatal.
"""

from __future__ import annotations

from typing import Any

from toolmesh.openapi.model import SecurityScheme, Server
from toolmesh.openapi.schema import UnresolvableRef, deref


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def servers(raw: Any) -> tuple[Server, ...]:
    """A ``servers`` list: each URL template with its variables' defaults and allowed values."""
    out = []
    for s in raw if isinstance(raw, list) else []:
        if not isinstance(s, dict) or not isinstance(s.get("url"), str):
            continue
        variables = []
        for name, v in _dict(s.get("variables")).items():
            if isinstance(v, dict):
                enum = tuple(str(e) for e in _list(v.get("enum")) if isinstance(e, str | int | float))
                variables.append((str(name), str(v.get("default", enum[0] if enum else "")), enum))
        out.append(Server(url=s["url"], variables=tuple(variables)))
    return tuple(out)


def security(raw: Any) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]:
    """A ``security`` list: alternatives, each a tuple of (scheme name, scopes)."""
    alternatives = []
    for alt in raw if isinstance(raw, list) else []:
        if isinstance(alt, dict):
            alternatives.append(tuple(
                (str(n), tuple(str(s) for s in scopes) if isinstance(scopes, list) else ()) for n, scopes in alt.items()
            ))  # fmt: skip
    return tuple(alternatives)


def security_schemes(doc: dict[str, Any]) -> tuple[SecurityScheme, ...]:
    """The document's security schemes, by name, reduced to what request building needs."""
    raw = _dict(doc.get("components")).get("securitySchemes") or {}
    out = []
    for name, scheme in raw.items() if isinstance(raw, dict) else ():
        try:
            s = deref(doc, scheme)
        except UnresolvableRef:
            continue
        if not isinstance(s, dict) or not isinstance(s.get("type"), str):
            continue
        flows = _dict(s.get("flows"))
        flow = _dict(
            flows.get("clientCredentials") or flows.get("authorizationCode") or next(iter(flows.values()), {})
        )
        out.append(SecurityScheme(
            name=str(name), type=s["type"], location=s.get("in") if isinstance(s.get("in"), str) else None,
            param_name=s.get("name") if isinstance(s.get("name"), str) else None,
            scheme=str(s["scheme"]).lower() if isinstance(s.get("scheme"), str) else None,
            token_url=flow.get("tokenUrl") if isinstance(flow.get("tokenUrl"), str) else None,
            authorization_url=flow.get("authorizationUrl") if isinstance(flow.get("authorizationUrl"), str) else None,
        ))  # fmt: skip
    return tuple(sorted(out, key=lambda s: s.name))
