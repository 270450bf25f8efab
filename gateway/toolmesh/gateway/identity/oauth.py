"""The OAuth 2.0 authorization-code flow with PKCE (RFC 7636), run by the gateway for its callers.

An integration of type ``oauth2AuthorizationCode`` is the gateway's OAuth client at the upstream.
A caller who has not connected gets a *connect link* in the tool result; in a browser it leads to
the upstream's consent page and back to ``/oauth/callback``, where the gateway exchanges the code
(with the PKCE verifier, which never left the gateway) and stores the tokens in Vault under the
caller's path. Calls then carry the access token to the category server for that call only; it is
refreshed shortly before it expires (a check-and-set write, so two replicas refreshing at once keep
one result), and revoked (RFC 7009) and deleted on disconnect.

The functions at the top are pure; :class:`OAuthBroker` does the I/O.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import structlog

from toolmesh.api.auth import Auth
from toolmesh.gateway.identity.states import StateStore
from toolmesh.vault import CachedReader, Vault, VaultConflict, Versioned

log = structlog.get_logger("toolmesh.gateway")
#: Refresh an access token this many seconds before it expires.
REFRESH_MARGIN = 60.0
TOKEN_TIMEOUT = 15.0
CALLBACK_PATH = "/oauth/callback"
CONNECT_PATH = "/oauth/connect"
DISCONNECT_PATH = "/oauth/disconnect"
_PLAIN_SUBJECT = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")

#: (integration, its auth) → (client_id, client_secret or None for a public client)
ClientCredentials = Callable[[str, Auth], Awaitable[tuple[str, str | None]]]


class OAuthError(Exception):
    """A step of the flow failed; the text is safe to show (no token, no code, no secret)."""


def user_key(subject: str) -> str:
    """The caller's path segment in Vault: the subject itself when it is plain, else a digest of it."""
    if _PLAIN_SUBJECT.match(subject) and subject not in {".", ".."}:
        return subject
    return "h-" + hashlib.sha256(subject.encode()).hexdigest()[:40]


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    endpoint: str, *, client_id: str, redirect_uri: str, scopes: list[str], state: str, challenge: str
) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if scopes:
        query["scope"] = " ".join(scopes)
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(query)


def stored_tokens(
    payload: dict[str, Any], now: float, previous: dict[str, str] | None = None
) -> dict[str, str]:
    """What is kept in Vault from a token response (a refresh may omit the refresh token: keep the old one)."""
    access = payload.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthError("the token endpoint returned no access_token")
    out = {"accessToken": access, "tokenType": str(payload.get("token_type", "Bearer"))}
    refresh = payload.get("refresh_token") or (previous or {}).get("refreshToken")
    if refresh:
        out["refreshToken"] = str(refresh)
    if isinstance(payload.get("expires_in"), int | float):
        out["expiresAt"] = str(int(now + float(payload["expires_in"])))
    if payload.get("scope"):
        out["scope"] = str(payload["scope"])
    return out


def needs_refresh(tokens: dict[str, str], now: float, margin: float = REFRESH_MARGIN) -> bool:
    expires = tokens.get("expiresAt")
    return expires is not None and float(expires) - now < margin


@dataclass
class OAuthBroker:
    vault: Vault
    states: StateStore
    base_url: str  # the gateway's public base URL
    user_prefix: str
    client_credentials: ClientCredentials
    #: The catalog's integrations that need the gateway's help with auth (live: the catalog's own map).
    auths: Mapping[str, Auth]
    pending_seconds: float = 600.0
    http: aiohttp.ClientSession | None = None  # set when the app starts
    clock: Callable[[], float] = time.time
    #: Told (integration, event) of each connected, refreshed, refresh_refused, disconnected: metrics.
    on_event: Callable[[str, str], None] = lambda integration, event: None
    #: How long an access token read from Vault is reused in this replica (never past its refresh time).
    token_cache_seconds: float = 30.0
    #: How long a user's own keys read from Vault are reused in this replica.
    keys_cache_seconds: float = 60.0
    _tokens: dict[str, tuple[float, str]] = field(default_factory=dict)
    _refreshing: dict[str, asyncio.Lock] = field(default_factory=dict)
    _keys: CachedReader = field(init=False)

    def __post_init__(self) -> None:
        self._keys = CachedReader(self.vault, self.keys_cache_seconds)

    @property
    def redirect_uri(self) -> str:
        return self.base_url + CALLBACK_PATH

    def path(self, subject: str, integration: str) -> str:
        return f"{self.user_prefix}/{user_key(subject)}/{integration}"

    async def user_keys(self, subject: str, integration: str) -> dict[str, str] | None:
        """The caller's own keys for a perUser integration (cached; None: none stored)."""
        return await self._keys.read(self.path(subject, integration))

    def _forget(self, path: str) -> None:
        self._tokens.pop(path, None)
        self._keys.forget(path)

    async def connect_link(self, subject: str, integration: str) -> str:
        """A single-use link that starts the upstream sign-in for this caller and integration."""
        verifier, _ = pkce_pair()
        return await self._link({"sub": subject, "integration": integration, "verifier": verifier})

    async def key_link(self, subject: str, integration: str, keys: tuple[str, ...]) -> str:
        """A single-use link to a form where the caller enters their own keys for the integration."""
        return await self._link(
            {"kind": "keys", "sub": subject, "integration": integration, "keys": list(keys)}
        )

    async def _link(self, pending: dict[str, Any]) -> str:
        state = secrets.token_urlsafe(32)
        await self.states.put(state, json.dumps(pending), self.pending_seconds)
        return f"{self.base_url}{CONNECT_PATH}?state={state}"

    async def pending(self, state: str) -> dict[str, Any]:
        """The flow a link started (OAuthError: expired, used, or never made)."""
        raw = await self.states.get(state) if state else None
        if raw is None:
            raise OAuthError(
                "this connect link has expired or was already used; call the tool again for a new one"
            )
        found: dict[str, Any] = json.loads(raw)
        return found

    async def store_keys(self, state: str, values: Mapping[str, str]) -> str:
        """Keep the keys the caller entered in the form of a key link; returns the integration."""
        pending = await self.pending(state)
        if pending.get("kind") != "keys":
            raise OAuthError("this link is for a sign-in at the upstream, not for entering keys")
        keys = pending["keys"]
        if any(not values.get(k, "").strip() for k in keys):
            raise OAuthError(f"every field is required ({', '.join(keys)}); go back and fill them in")
        if await self.states.take(state) is None:
            raise OAuthError("this connect link was already used; call the tool again for a new one")
        integration = str(pending["integration"])
        path = self.path(pending["sub"], integration)
        self._forget(path)
        await self.vault.write(path, {k: values[k].strip() for k in keys})
        log.info("credentials.stored", integration=integration, user=user_key(pending["sub"]))
        self.on_event(integration, "connected")
        return integration

    async def authorization_redirect(self, state: str) -> str:
        """Where ``/oauth/connect`` sends the browser: the upstream's authorization endpoint."""
        pending = await self.pending(state)
        if pending.get("kind") == "keys":
            raise OAuthError("this link is for entering keys, not for a sign-in at the upstream")
        auth = self._auth_of(pending["integration"])
        assert auth.oauth2 is not None
        assert auth.oauth2.authorization_url is not None
        client_id, _ = await self.client_credentials(pending["integration"], auth)
        return authorization_url(
            auth.oauth2.authorization_url,
            client_id=client_id,
            redirect_uri=self.redirect_uri,
            scopes=auth.oauth2.scopes,
            state=state,
            challenge=pkce_challenge(pending["verifier"]),
        )

    async def complete(self, state: str, code: str) -> tuple[str, str]:
        """Exchange the code for tokens and keep them in Vault; returns (subject, integration)."""
        raw = await self.states.take(state)  # single use: a replayed callback finds nothing
        if raw is None:
            raise OAuthError(
                "this sign-in has expired or was already completed; call the tool again for a new link"
            )
        pending = json.loads(raw)
        if pending.get("kind") == "keys":
            raise OAuthError("this link is for entering keys, not for a sign-in at the upstream")
        integration = pending["integration"]
        auth = self._auth_of(integration)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": pending["verifier"],
        }
        payload = await self._token_request(integration, auth, form)
        tokens = stored_tokens(payload, self.clock())
        path = self.path(pending["sub"], integration)
        self._forget(path)
        await self.vault.write(path, tokens)
        log.info("oauth.connected", integration=integration, user=user_key(pending["sub"]))
        self.on_event(integration, "connected")
        return pending["sub"], integration

    async def access_token(self, subject: str, integration: str, auth: Auth) -> str | None:
        """The caller's current access token (refreshed when about to expire), or None: not connected.

        Read from Vault (reused for ``token_cache_seconds``); one refresh at a time per user and
        integration in this replica, and a refresh another replica won is used, not undone.
        """
        path = self.path(subject, integration)
        cached = self._tokens.get(path)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        found = await self.vault.read_versioned(path)
        if found is None:
            return None
        if needs_refresh(found.data, self.clock()):
            async with self._refreshing.setdefault(path, asyncio.Lock()):
                found = await self._refresh(subject, integration, auth, path)
                if found is None:
                    return None
        access = found.data.get("accessToken")
        if access and self.token_cache_seconds > 0:
            left = float(found.data.get("expiresAt", "inf")) - REFRESH_MARGIN - self.clock()
            self._tokens[path] = (time.monotonic() + min(self.token_cache_seconds, left), access)
        return access

    async def _refresh(self, subject: str, integration: str, auth: Auth, path: str) -> Versioned | None:
        found = await self.vault.read_versioned(path)  # refreshed while this call waited?
        if found is None or not needs_refresh(found.data, self.clock()):
            return found
        tokens = found.data
        if not tokens.get("refreshToken"):
            return None  # expired and cannot be renewed: connect again
        try:
            payload = await self._token_request(
                integration, auth, {"grant_type": "refresh_token", "refresh_token": tokens["refreshToken"]}
            )
        except OAuthError:
            again = await self.vault.read_versioned(path)
            if again is not None and again.version != found.version:
                return again  # another replica refreshed with the same refresh token first
            log.info("oauth.refresh_refused", integration=integration, user=user_key(subject))
            self.on_event(integration, "refresh_refused")
            await self.vault.delete(path)
            return None
        fresh = stored_tokens(payload, self.clock(), tokens)
        try:
            version = await self.vault.write(path, fresh, cas=found.version)
        except VaultConflict:  # another replica refreshed first: use what it stored
            return await self.vault.read_versioned(path)
        log.info("oauth.refreshed", integration=integration, user=user_key(subject))
        self.on_event(integration, "refreshed")
        return Versioned(fresh, version)

    async def disconnect(self, subject: str, integration: str, auth: Auth) -> bool:
        """Revoke the caller's tokens at the upstream (when it can) and forget them (or their own keys);
        False: nothing was kept."""
        path = self.path(subject, integration)
        self._forget(path)
        tokens = await self.vault.read(path)
        if tokens is None:
            return False
        if auth.oauth2 is not None and auth.oauth2.revocation_url:
            for kind in ("refreshToken", "accessToken"):
                if tokens.get(kind):
                    hint = "refresh_token" if kind == "refreshToken" else "access_token"
                    await self._revoke(integration, auth, tokens[kind], hint)
        await self.vault.delete(path)
        log.info("oauth.disconnected", integration=integration, user=user_key(subject))
        self.on_event(integration, "disconnected")
        return True

    def _auth_of(self, integration: str) -> Auth:
        auth = self.auths.get(integration)
        if auth is None or auth.oauth2 is None:
            raise OAuthError(f"integration {integration!r} is not an authorization-code integration here")
        return auth

    async def _client_post(
        self, integration: str, auth: Auth, url: str, form: dict[str, str]
    ) -> tuple[int, Any]:
        if self.http is None:
            raise OAuthError("the gateway is not started")
        client_id, client_secret = await self.client_credentials(integration, auth)
        headers = {"Accept": "application/json"}
        if client_secret is not None:  # client_secret_basic (RFC 6749 §2.3.1)
            pair = f"{_form_quote(client_id)}:{_form_quote(client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form = {**form, "client_id": client_id}
        try:
            async with self.http.post(
                url, data=form, headers=headers, timeout=aiohttp.ClientTimeout(total=TOKEN_TIMEOUT)
            ) as response:
                body = await response.read()
                try:
                    return response.status, json.loads(body) if body else {}
                except ValueError:
                    return response.status, {}
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OAuthError(f"{url} cannot be reached ({type(exc).__name__})") from None

    async def _token_request(self, integration: str, auth: Auth, form: dict[str, str]) -> dict[str, Any]:
        assert auth.oauth2 is not None
        status, payload = await self._client_post(integration, auth, auth.oauth2.token_url, form)
        if status != 200 or not isinstance(payload, dict):
            error = payload.get("error") if isinstance(payload, dict) else None
            shown = re.sub(r"[^A-Za-z0-9_]", "", str(error))[:40] if error else f"HTTP {status}"
            raise OAuthError(f"the token endpoint {auth.oauth2.token_url} refused the request ({shown})")
        return payload

    async def _revoke(self, integration: str, auth: Auth, token: str, hint: str) -> None:
        assert auth.oauth2 is not None
        assert auth.oauth2.revocation_url is not None
        try:
            status, _ = await self._client_post(
                integration, auth, auth.oauth2.revocation_url, {"token": token, "token_type_hint": hint}
            )
        except OAuthError as exc:
            log.warning("oauth.revoke_failed", integration=integration, reason=str(exc))
            return
        if status != 200:
            log.warning("oauth.revoke_failed", integration=integration, reason=f"HTTP {status}")


def _form_quote(value: str) -> str:
    return quote(value, safe="")
