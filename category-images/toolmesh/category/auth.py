"""Putting an integration's credentials into a built request, and nowhere else.

Supported here: API keys (header, query, cookie), bearer tokens, basic auth, and OAuth 2.0 client
credentials (token fetched from ``tokenUrl`` with client_secret_basic, cached until shortly before it
expires). Vault paths, per-user credentials and the authorization-code flow need the gateway's
identity layer (issue #9); such calls fail with a message that says so.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from toolmesh.api.integration import Auth, AuthType
from toolmesh.category.credentials import MissingCredential, SecretStore
from toolmesh.category.upstream import UpstreamPool
from toolmesh.openapi.request import HttpRequest

#: Refresh a cached token this many seconds before it expires.
EXPIRY_MARGIN = 30.0


class AuthUnavailable(Exception):
    """The integration's auth cannot be applied by a category server alone."""


def with_header(request: HttpRequest, name: str, value: str) -> HttpRequest:
    headers = tuple((k, v) for k, v in request.headers if k.lower() != name.lower())
    return HttpRequest(request.method, request.url, (*headers, (name, value)), request.body)


def with_query(request: HttpRequest, name: str, value: str) -> HttpRequest:
    sep = "&" if "?" in request.url else "?"
    return HttpRequest(
        request.method,
        f"{request.url}{sep}{quote(name, safe='')}={quote(value, safe='')}",
        request.headers,
        request.body,
    )


def with_cookie(request: HttpRequest, name: str, value: str) -> HttpRequest:
    current = request.header("Cookie")
    cookie = f"{name}={quote(value, safe='')}"
    return with_header(request, "Cookie", f"{current}; {cookie}" if current else cookie)


@dataclass
class TokenCache:
    """OAuth 2.0 client-credentials tokens, per (token URL, client, scopes)."""

    clock: Callable[[], float] = time.monotonic
    _tokens: dict[tuple[str, str, str], tuple[str, float]] = field(default_factory=dict)

    async def token(
        self, pool: UpstreamPool, url: str, client_id: str, secret: str, scopes: list[str], timeout: float
    ) -> str:
        key = (url, client_id, " ".join(scopes))
        cached = self._tokens.get(key)
        if cached is not None and cached[1] > self.clock():
            return cached[0]
        form = "grant_type=client_credentials" + (f"&scope={quote(' '.join(scopes))}" if scopes else "")
        basic = base64.b64encode(f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()).decode()
        request = HttpRequest(
            "POST",
            url,
            (
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Authorization", f"Basic {basic}"),
                ("Accept", "application/json"),
            ),
            form.encode(),
        )
        response = await pool.send(request, timeout=timeout)
        if response.status != 200:
            raise AuthUnavailable(
                f"the token endpoint {url} answered HTTP {response.status}; check clientId and clientSecret"
            )
        try:
            payload = json.loads(response.body)
            access = str(payload["access_token"])
            lifetime = float(payload.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise AuthUnavailable(f"the token endpoint {url} did not return an access_token") from None
        self._tokens[key] = (access, self.clock() + max(0.0, lifetime - EXPIRY_MARGIN))
        return access


@dataclass(frozen=True)
class Credential:
    """One static credential and where it goes: ``(location, name, value)``."""

    location: str  # header | query | cookie
    name: str
    value: str


def shared_secret(auth: Auth) -> str:
    """The Secret that holds the integration's shared credentials, or why there is none here."""
    if auth.per_user or auth.type == AuthType.OAUTH2_AUTHORIZATION_CODE:
        raise AuthUnavailable(
            "per-user credentials are brokered by the gateway (identity issue #9); call this tool through the gateway"
        )
    if auth.secret_ref is None:
        raise AuthUnavailable(
            "spec.auth.vaultPath needs the gateway's Vault integration (identity issue #9); use spec.auth.secretRef for now"
        )
    return auth.secret_ref.name


def static_credential(auth: Auth, store: SecretStore) -> Credential | None:
    """The credential of an API key, bearer or basic integration; None for the OAuth2 types."""
    secret = shared_secret(auth)
    try:
        if auth.type == AuthType.API_KEY:
            assert auth.api_key is not None  # guaranteed by the model's rules
            return Credential(auth.api_key.location, auth.api_key.name, store.get(secret, "apiKey"))
        if auth.type == AuthType.BEARER:
            return Credential("header", "Authorization", f"Bearer {store.get(secret, 'token')}")
        if auth.type == AuthType.BASIC:
            pair = f"{store.get(secret, 'username')}:{store.get(secret, 'password')}"
            return Credential("header", "Authorization", "Basic " + base64.b64encode(pair.encode()).decode())
    except MissingCredential as exc:
        raise AuthUnavailable(str(exc)) from None
    return None


async def authorize(
    request: HttpRequest,
    auth: Auth | None,
    *,
    store: SecretStore,
    tokens: TokenCache,
    pool: UpstreamPool,
    timeout: float,
) -> HttpRequest:
    """The request with the integration's credentials applied."""
    if auth is None or auth.type == AuthType.NONE:
        return request
    credential = static_credential(auth, store)
    if credential is not None:
        place = {"header": with_header, "query": with_query, "cookie": with_cookie}[credential.location]
        return place(request, credential.name, credential.value)
    assert auth.oauth2 is not None  # the remaining (OAuth2) types require it (model rules)
    secret = shared_secret(auth)
    try:
        client_id, client_secret = store.get(secret, "clientId"), store.get(secret, "clientSecret")
    except MissingCredential as exc:
        raise AuthUnavailable(str(exc)) from None
    token = await tokens.token(
        pool, auth.oauth2.token_url, client_id, client_secret, auth.oauth2.scopes, timeout
    )
    store.handed_out.add(token)
    return with_header(request, "Authorization", f"Bearer {token}")
