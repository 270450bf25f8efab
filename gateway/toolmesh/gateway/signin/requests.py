"""What MCP clients send the gateway's authorization server, checked (pure): registrations (RFC
7591), authorization requests (RFC 6749 §4.1 with PKCE S256 and RFC 8707 resources) and code
exchanges; and the metadata (RFC 8414) that tells clients where each endpoint is."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

REGISTER_PATH = "/oauth/register"
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
SIGNED_IN_PATH = "/oauth/signed-in"  # where the identity provider sends the browser back
JWKS_PATH = "/oauth/jwks"
METADATA_PATH = "/.well-known/oauth-authorization-server"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_REDIRECT_URIS = 10


class OAuthRequestError(Exception):
    """An OAuth error response: ``error`` is the RFC's code, the message says which field and why."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error


def metadata(issuer: str, base: str, scopes: list[str]) -> dict[str, Any]:
    """RFC 8414 metadata of the gateway as authorization server (public clients, code + S256)."""
    document: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "registration_endpoint": base + REGISTER_PATH,
        "jwks_uri": base + JWKS_PATH,
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "authorization_response_iss_parameter_supported": True,
    }
    if scopes:
        document["scopes_supported"] = scopes
    return document


def redirect_uri_allowed(uri: str) -> bool:
    """https anywhere, or http on a loopback address (native clients, RFC 8252 §7.3); no fragment."""
    parts = urlsplit(uri)
    if parts.fragment or not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def registration(body: Any) -> dict[str, Any]:
    """The record of a client that asked to register: its redirect URIs and name. Whatever it asked
    for, it is a public client using code + PKCE (RFC 7591 §3.2.1 lets the server decide)."""
    if not isinstance(body, dict):
        raise OAuthRequestError("invalid_client_metadata", "the registration must be a JSON object")
    uris = body.get("redirect_uris")
    if not isinstance(uris, list) or not uris or len(uris) > MAX_REDIRECT_URIS:
        raise OAuthRequestError(
            "invalid_redirect_uri", f"redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs"
        )
    for uri in uris:
        if not isinstance(uri, str) or not redirect_uri_allowed(uri):
            raise OAuthRequestError(
                "invalid_redirect_uri",
                f"redirect_uris: {str(uri)[:200]!r} is neither https nor http on loopback",
            )
    name = body.get("client_name")
    return {"redirect_uris": uris, "client_name": name[:200] if isinstance(name, str) else None}


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class Authorization:
    """A checked authorization request of a registered client."""

    client_id: str
    redirect_uri: str
    state: str | None
    challenge: str
    scope: str
    resource: str


def authorization(params: Any, client: dict[str, Any], resource: str) -> Authorization:
    """Checks the request of ``client`` (its registration record); the redirect URI first, since
    every later error is sent there (RFC 6749 §4.1.2.1)."""
    redirect_uri = str(params.get("redirect_uri") or "")
    if redirect_uri not in client["redirect_uris"]:
        raise OAuthRequestError("invalid_request", "redirect_uri is not one the client registered")
    if params.get("response_type") != "code":
        raise OAuthRequestError("unsupported_response_type", "response_type must be code")
    challenge = str(params.get("code_challenge") or "")
    if params.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
        raise OAuthRequestError(
            "invalid_request", "PKCE is required: code_challenge with code_challenge_method S256"
        )
    asked = params.get("resource")
    if asked is not None and asked != resource:
        raise OAuthRequestError("invalid_target", f"resource must be {resource}")
    return Authorization(
        str(params["client_id"]),
        redirect_uri,
        params.get("state"),
        challenge,
        str(params.get("scope") or ""),
        resource,
    )


def exchange(form: Any, grant: dict[str, Any]) -> None:
    """Checks a code exchange against the grant its code stands for (raises invalid_grant)."""
    if form.get("client_id") != grant["client_id"]:
        raise OAuthRequestError("invalid_grant", "the code was issued to another client")
    if form.get("redirect_uri") != grant["redirect_uri"]:
        raise OAuthRequestError("invalid_grant", "redirect_uri differs from the authorization request's")
    verifier = str(form.get("code_verifier") or "")
    if not hmac.compare_digest(s256(verifier), grant["challenge"]):
        raise OAuthRequestError("invalid_grant", "code_verifier does not match the code_challenge")
    if form.get("resource") not in (None, grant["resource"]):
        raise OAuthRequestError("invalid_target", f"resource must be {grant['resource']}")
