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
    if auth.per_user or auth.type == AuthType.OAUTH2_AUTHORIZATION_CODE:
        raise AuthUnavailable(
            "per-user credentials are brokered by the gateway (identity issue #9); call this tool through the gateway"
        )
    if auth.secret_ref is None:
        raise AuthUnavailable(
            "spec.auth.vaultPath needs the gateway's Vault integration (identity issue #9); use spec.auth.secretRef for now"
        )
    secret = auth.secret_ref.name
    try:
        if auth.type == AuthType.API_KEY:
            assert auth.api_key is not None  # guaranteed by the model's rules
            key = store.get(secret, "apiKey")
            place = {"header": with_header, "query": with_query, "cookie": with_cookie}[auth.api_key.location]
            return place(request, auth.api_key.name, key)
        if auth.type == AuthType.BEARER:
            return with_header(request, "Authorization", f"Bearer {store.get(secret, 'token')}")
        if auth.type == AuthType.BASIC:
            pair = f"{store.get(secret, 'username')}:{store.get(secret, 'password')}"
            return with_header(request, "Authorization", "Basic " + base64.b64encode(pair.encode()).decode())
        assert auth.oauth2 is not None  # OAuth2 types require it (model rules)
        token = await tokens.token(
            pool,
            auth.oauth2.token_url,
            store.get(secret, "clientId"),
            store.get(secret, "clientSecret"),
            auth.oauth2.scopes,
            timeout,
        )
        store.handed_out.add(token)
        return with_header(request, "Authorization", f"Bearer {token}")
    except MissingCredential as exc:
        raise AuthUnavailable(str(exc)) from None
