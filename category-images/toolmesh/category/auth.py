"""Putting an integration's credentials into a built request, and nowhere else.

Supported here: API keys (header, query, cookie), bearer tokens, basic auth, OAuth 2.0 client
credentials (token fetched from ``tokenUrl`` with client_secret_basic, cached until shortly before it
expires) and OAuth 2.0 authorization-code access tokens. The values come from one of three places
(:func:`lookup`): the integration's Secret (``secretRef``), its Vault path (``vaultPath``, read
through the category server's own Vault login), or, for ``perUser`` and authorization-code
integrations, the calling user's credentials that the gateway sends with that one call and that
are kept for nothing else.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from toolmesh.api.auth import Auth, AuthType
from toolmesh.category.upstream import UpstreamPool
from toolmesh.common.secrets import MissingCredential, SecretStore
from toolmesh.openapi.request import HttpRequest
from toolmesh.vault import CachedReader, VaultError

#: Looks one credential key up (``apiKey``, ``token``, ...); raises AuthUnavailable naming what is missing.
Lookup = Callable[[str], str]

#: Refresh a cached token this many seconds before it expires.
EXPIRY_MARGIN = 30.0


class AuthUnavailable(Exception):
    """The integration's auth cannot be applied by a category server alone."""


def with_header(request: HttpRequest, name: str, value: str) -> HttpRequest:
    headers = tuple((k, v) for k, v in request.headers if k.lower() != name.lower())
    return dataclasses.replace(request, headers=(*headers, (name, value)))


def with_query(request: HttpRequest, name: str, value: str) -> HttpRequest:
    """The credential in the query string, also after a same-origin redirect (upstream.py)."""
    sep = "&" if "?" in request.url else "?"
    pair = (quote(name, safe=""), quote(value, safe=""))
    return dataclasses.replace(
        request, url=f"{request.url}{sep}{pair[0]}={pair[1]}", redirect_query=(*request.redirect_query, pair)
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
    #: Secrets derived from the looked-up values that the upstream sees (Basic's ``user:pass``).
    derived: tuple[str, ...] = ()


def secret_lookup(auth: Auth, store: SecretStore) -> Lookup:
    """Credentials from the integration's Secret (``spec.auth.secretRef``)."""
    if auth.secret_ref is None:
        raise AuthUnavailable("spec.auth.secretRef is not set")
    secret = auth.secret_ref.name

    def get(key: str) -> str:
        try:
            return store.get(secret, key)
        except MissingCredential as exc:
            raise AuthUnavailable(str(exc)) from None

    return get


def mapping_lookup(values: Mapping[str, str], where: str) -> Lookup:
    def get(key: str) -> str:
        value = values.get(key)
        if not value:
            raise AuthUnavailable(f"{where} has no {key!r}")
        return value

    return get


async def lookup(
    auth: Auth,
    store: SecretStore,
    vault: CachedReader | None,
    user: Mapping[str, str] | None,
) -> Lookup:
    """Where this call's credentials come from: the caller's, Vault's, or the Secret's."""
    if auth.per_caller:
        if user is None:
            raise AuthUnavailable(
                "this integration uses each user's own credentials, which the gateway sends with the "
                "call: call it through the gateway as a signed-in user"
            )
        return mapping_lookup(user, "the caller's credentials")
    if auth.vault_path is not None:
        if vault is None:
            raise AuthUnavailable(
                "spec.auth.vaultPath needs Vault: set TOOLMESH_VAULT_ADDR (and its login) for the category server"
            )
        try:
            data = await vault.read(auth.vault_path)
        except VaultError as exc:
            raise AuthUnavailable(str(exc)) from None
        where = f"{vault.vault.settings.kv_mount}/{auth.vault_path}"
        if data is None:
            raise AuthUnavailable(f"Vault has no secret at {where}")
        store.handed_out.update(v for v in data.values() if len(v) >= 4)
        return mapping_lookup(data, f"the Vault secret {where}")
    return secret_lookup(auth, store)


def static_credential(auth: Auth, get: Lookup) -> Credential | None:
    """The credential of an API key, bearer, basic or authorization-code integration; None for client credentials."""
    if auth.type == AuthType.API_KEY:
        assert auth.api_key is not None  # guaranteed by the model's rules
        return Credential(auth.api_key.location, auth.api_key.name, get("apiKey"))
    if auth.type == AuthType.BEARER:
        return Credential("header", "Authorization", f"Bearer {get('token')}")
    if auth.type == AuthType.OAUTH2_AUTHORIZATION_CODE:
        return Credential("header", "Authorization", f"Bearer {get('accessToken')}")
    if auth.type == AuthType.BASIC:
        pair = f"{get('username')}:{get('password')}"
        encoded = base64.b64encode(pair.encode()).decode()
        return Credential("header", "Authorization", "Basic " + encoded, derived=(pair, encoded))
    return None


async def authorize(
    request: HttpRequest,
    auth: Auth | None,
    *,
    store: SecretStore,
    tokens: TokenCache,
    pool: UpstreamPool,
    timeout: float,
    vault: CachedReader | None = None,
    user: Mapping[str, str] | None = None,
    reveal: Callable[..., None] = lambda *values: None,
) -> HttpRequest:
    """The request with the integration's credentials applied; ``reveal`` is told each secret the
    request carries that the lookup did not hand out itself (to scrub this call's result of it)."""
    if auth is None or auth.type == AuthType.NONE:
        return request
    get = await lookup(auth, store, vault, user)
    credential = static_credential(auth, get)
    if credential is not None:
        reveal(credential.value, *credential.derived)
        place = {"header": with_header, "query": with_query, "cookie": with_cookie}[credential.location]
        return place(request, credential.name, credential.value)
    assert auth.oauth2 is not None  # client credentials require it (model rules)
    token = await tokens.token(
        pool, auth.oauth2.token_url, get("clientId"), get("clientSecret"), auth.oauth2.scopes, timeout
    )
    store.handed_out.add(token)
    return with_header(request, "Authorization", f"Bearer {token}")
