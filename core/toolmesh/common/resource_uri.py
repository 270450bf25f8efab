"""The URIs of federated resources as toolmesh serves them: ``toolmesh://<integration>/<original>``.

A category server federates several MCP servers, and the gateway several category servers, so two
servers' resources may share a URI (``file:///README.md``). Each URI, and each URI template, is
served with a literal prefix that names the integration (its ``metadata.name``: unique in its
namespace, and a DNS name, so a valid URI host), followed by the server's own URI unchanged, not
decoded, not normalised. Reading a URI strips the prefix and sends the rest to that integration's
server only; its ``spec.access`` decides who may read it.

Because the prefix is literal, a wrapped template expands to the wrapped expansion: a client that
fills ``toolmesh://files/file:///{path}`` gets ``toolmesh://files/file:///notes.txt``, which unwraps
to what the server's own template would have given. The original part is opaque: ``..`` in it is
the remote's business and never reaches another integration (docs/design/0017).
"""

from __future__ import annotations

import re

SCHEME = "toolmesh"
PREFIX = f"{SCHEME}://"
#: Longest URI accepted (wrapped): far above any real resource URI, well below a request's size.
MAX_URI = 8192
#: The integration part: a DNS-1123 subdomain, as Kubernetes names objects (toolmesh.api.base).
_INTEGRATION = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_INTEGRATION = 253


class BadResourceUri(ValueError):
    """A URI that is not a toolmesh resource URI; the message says why (safe to show the agent)."""


def wrap(integration: str, original: str) -> str:
    """The URI (or URI template) under which toolmesh serves ``integration``'s ``original``."""
    _check_integration(integration)
    if not original:
        raise BadResourceUri("a resource URI must not be empty")
    return f"{PREFIX}{integration}/{original}"


def unwrap(uri: str) -> tuple[str, str]:
    """The integration and the server's own URI of a URI made by :func:`wrap`."""
    if len(uri) > MAX_URI:
        raise BadResourceUri(f"the resource URI is longer than {MAX_URI} characters")
    if not uri.startswith(PREFIX):
        raise BadResourceUri(f"not a toolmesh resource URI: it must start with {PREFIX}<integration>/")
    integration, slash, original = uri[len(PREFIX) :].partition("/")
    if not slash:
        raise BadResourceUri(f"the resource URI names no server's URI after {PREFIX}<integration>/")
    _check_integration(integration)
    if not original:
        raise BadResourceUri(f"the resource URI names no server's URI after {PREFIX}{integration}/")
    return integration, original


def integration_of(uri: str) -> str | None:
    """The integration a toolmesh resource URI names, or None when it is not one."""
    try:
        return unwrap(uri)[0]
    except BadResourceUri:
        return None


def _check_integration(integration: str) -> None:
    if not integration:
        raise BadResourceUri(f"the resource URI names no integration after {PREFIX}")
    if len(integration) > MAX_INTEGRATION or not _INTEGRATION.fullmatch(integration):
        raise BadResourceUri(
            f"the resource URI's integration part is not an integration name (a DNS-1123 name): "
            f"{integration[:64]!r}"
        )
