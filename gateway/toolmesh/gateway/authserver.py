"""Where the authorization server publishes its signing keys, read from its own metadata.

An issuer's JWKS lives at a different path for each product (oidc-provider ``/jwks``, Keycloak
``/protocol/openid-connect/certs``, Okta ``/v1/keys``, Auth0 ``/.well-known/jwks.json``), but each
publishes metadata that names it: OAuth 2.0 Authorization Server Metadata (RFC 8414) or OpenID
Connect Discovery. The gateway reads ``jwks_uri`` there, as MCP clients read the same documents
to find the authorization and registration endpoints, unless ``TOOLMESH_AUTH_JWKS_URL`` names it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=10)


class DiscoveryError(Exception):
    """The issuer's metadata could not be read or does not name its keys (a one-line reason)."""


def metadata_urls(issuer: str) -> list[str]:
    """The metadata documents of ``issuer``, in the order MCP clients try them (RFC 8414 §3.1 and 5)."""
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ][: 3 if path else 2]


def same_issuer(a: str, b: str) -> bool:
    """Issuer identifiers compare as strings (RFC 8414 §3.3); a bare origin may end with its slash."""
    return a.rstrip("/") == b.rstrip("/") if urlsplit(a).path in ("", "/") else a == b


async def metadata(http: aiohttp.ClientSession, issuer: str) -> dict[str, Any]:
    """The metadata ``issuer`` publishes; a document naming another issuer is not trusted."""
    reasons = []
    for url in metadata_urls(issuer):
        try:
            async with http.get(url, timeout=TIMEOUT, allow_redirects=False) as response:
                if response.status != 200:
                    reasons.append(f"{url}: HTTP {response.status}")
                    continue
                document = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            reasons.append(f"{url}: {str(exc) or type(exc).__name__}")
            continue
        if not isinstance(document, dict):
            reasons.append(f"{url}: not a JSON object")
            continue
        if not same_issuer(str(document.get("issuer", "")), issuer):
            raise DiscoveryError(f"{url} names issuer {document.get('issuer')!r}, not {issuer!r}")
        return document
    raise DiscoveryError("no metadata at " + "; ".join(reasons))


def endpoint(document: dict[str, Any], name: str, setting: str) -> str:
    """An endpoint URL the metadata must name (``jwks_uri``, ``token_endpoint``, ...)."""
    found = document.get(name)
    if not isinstance(found, str) or not found:
        raise DiscoveryError(f"the issuer's metadata names no {name}; set {setting}")
    return found


async def jwks_uri(http: aiohttp.ClientSession, issuer: str) -> str:
    """The ``jwks_uri`` that ``issuer`` publishes in its metadata."""
    return endpoint(await metadata(http, issuer), "jwks_uri", "TOOLMESH_AUTH_JWKS_URL")
