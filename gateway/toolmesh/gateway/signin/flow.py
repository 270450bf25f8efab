"""The sign-in the gateway runs for MCP clients, delegating the user's part to the identity provider.

register → the client id is a signed record of the registration (nothing stored: any replica can
check it). authorize → the request is kept under a random key (the store of flows in progress,
shared by replicas through Redis) and the browser goes to the provider with the gateway's own
client and PKCE. signed_in → the provider's code is exchanged, its ID token verified (``sub``,
``groups``), and the client gets a code of the gateway's, good once for a minute. token → that code
and the client's PKCE verifier become the gateway's JWT for its resource.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import jwt

from toolmesh.gateway import auth, authserver
from toolmesh.gateway.identity.states import StateStore
from toolmesh.gateway.signin import requests
from toolmesh.gateway.signin.keys import SigningKey
from toolmesh.gateway.signin.requests import OAuthRequestError

CLIENT_TYP = "toolmesh-client+jwt"
# The scopes a client asks for are granted by no one: a user would get any scope by asking, and
# spec.access.scopes would mean nothing. The gateway's tokens carry the provider's groups instead.
GRANTED_SCOPE = ""
PENDING_SECONDS = 600.0
CODE_SECONDS = 60.0
TIMEOUT = aiohttp.ClientTimeout(total=10)


class ClientUnknown(Exception):
    """The client id or redirect URI cannot be trusted: the error is shown, never redirected."""


class ProviderUnavailable(Exception):
    """The identity provider could not be reached or refused the gateway (a one-line reason)."""


@dataclass
class SignIn:
    issuer: str  # the gateway's own issuer identifier: its public URL
    base: str
    resource: str
    provider_issuer: str
    client_id: str  # the gateway's client at the provider
    client_secret: str | None
    scopes: list[str]
    key: SigningKey
    states: StateStore
    token_seconds: int = 3600
    http: aiohttp.ClientSession | None = None
    _provider: dict[str, Any] = field(default_factory=dict)
    _id_tokens: auth.Authenticator | None = None

    async def lifespan(self) -> Any:
        async with aiohttp.ClientSession() as http:
            self.http = http
            self._id_tokens = auth.Authenticator(
                "jwt", issuer=self.provider_issuer, audience=self.client_id,
                jwks=auth.JwksCache(None, self.provider_issuer, http=http),
            )  # fmt: skip
            try:
                yield
            finally:
                await self.states.close()

    def register(self, body: Any) -> dict[str, Any]:
        record = requests.registration(body)
        now = int(time.time())
        client_id = self.key.sign({"iss": self.issuer, "iat": now, **record}, CLIENT_TYP)
        return {
            **{k: v for k, v in record.items() if v is not None},
            "client_id": client_id,
            "client_id_issued_at": now,
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }

    def client(self, client_id: str) -> dict[str, Any]:
        try:
            return self.key.verify(client_id, CLIENT_TYP, self.issuer)
        except jwt.PyJWTError:
            raise ClientUnknown("client_id is not one this gateway registered") from None

    async def authorize(self, params: Any) -> str:
        """Where to send the browser: the provider's sign-in (ClientUnknown, or an error redirect)."""
        client = self.client(str(params.get("client_id") or ""))
        if str(params.get("redirect_uri") or "") not in client["redirect_uris"]:
            raise ClientUnknown("redirect_uri is not one the client registered")
        request = requests.authorization(params, client, self.resource)
        provider = await self._metadata()
        key, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        pending = {**request.__dict__, "verifier": verifier}
        await self.states.put("signin:" + key, json.dumps(pending), PENDING_SECONDS)
        query = {
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.base + requests.SIGNED_IN_PATH,
            "scope": " ".join(self.scopes), "state": key, "code_challenge": requests.s256(verifier),
            "code_challenge_method": "S256",
        }  # fmt: skip
        return (
            authserver.endpoint(provider, "authorization_endpoint", "a provider with metadata")
            + "?"
            + urlencode(query)
        )

    async def signed_in(self, params: Any) -> str:
        """Where to send the browser back: the client's redirect URI with a code, or with an error."""
        raw = await self.states.take("signin:" + str(params.get("state") or ""))
        if raw is None:
            raise ClientUnknown("this sign-in is unknown or expired; start again from the application")
        pending = json.loads(raw)
        if "code" not in params:
            return self.back(
                pending, {"error": "access_denied", "error_description": "the sign-in was declined"}
            )
        caller = await self._exchange(str(params["code"]), pending["verifier"])
        code = secrets.token_urlsafe(32)
        grant = {k: pending[k] for k in ("client_id", "redirect_uri", "challenge", "resource")}
        grant |= {"sub": caller.subject, "groups": sorted(caller.groups)}
        await self.states.put("code:" + code, json.dumps(grant), CODE_SECONDS)
        return self.back(pending, {"code": code})

    async def token(self, form: Any) -> dict[str, Any]:
        if form.get("grant_type") != "authorization_code":
            raise OAuthRequestError("unsupported_grant_type", "grant_type must be authorization_code")
        raw = await self.states.take("code:" + str(form.get("code") or ""))
        if raw is None:
            raise OAuthRequestError("invalid_grant", "the code is unknown, expired or already used")
        grant = json.loads(raw)
        requests.exchange(form, grant)
        now = int(time.time())
        # No scope claim: nothing here decides who may have one, so none is granted (GRANTED_SCOPE).
        claims = {
            "iss": self.issuer, "sub": grant["sub"], "aud": grant["resource"], "iat": now,
            "exp": now + self.token_seconds, "client_id": grant["client_id"], "jti": secrets.token_urlsafe(16),
            "groups": grant["groups"],
        }  # fmt: skip
        return {
            "access_token": self.key.sign(claims, "at+jwt"),
            "token_type": "Bearer",
            "expires_in": self.token_seconds,
            "scope": GRANTED_SCOPE,
        }

    def back(self, pending: dict[str, Any], answer: dict[str, str]) -> str:
        """The client's redirect URI with ``answer``, its state and the issuer (RFC 9207)."""
        state = {"state": pending["state"]} if pending.get("state") is not None else {}
        redirect_uri = str(pending["redirect_uri"])
        separator = "&" if "?" in redirect_uri else "?"
        return redirect_uri + separator + urlencode({**answer, **state, "iss": self.issuer})

    async def _metadata(self) -> dict[str, Any]:
        if not self._provider:
            if self.http is None:
                raise ProviderUnavailable("the gateway is not started")
            try:
                self._provider = await authserver.metadata(self.http, self.provider_issuer)
            except authserver.DiscoveryError as exc:
                raise ProviderUnavailable(f"the identity provider's metadata: {exc}") from None
        return self._provider

    async def _exchange(self, code: str, verifier: str) -> auth.Principal:
        """The provider's code → its ID token → who signed in."""
        provider = await self._metadata()
        assert self.http is not None
        assert self._id_tokens is not None
        form = {
            "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": self.base + requests.SIGNED_IN_PATH,
        }  # fmt: skip
        headers = {}
        if self.client_secret:  # client_secret_basic, each part form-encoded first (RFC 6749 §2.3.1)
            pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = self.client_id
        url = authserver.endpoint(provider, "token_endpoint", "a provider with metadata")
        try:
            async with self.http.post(url, data=form, headers=headers, timeout=TIMEOUT) as response:
                answer = await response.json(content_type=None)
                if response.status != 200 or not isinstance(answer, dict) or "id_token" not in answer:
                    raise ProviderUnavailable(
                        f"the identity provider refused the sign-in (HTTP {response.status})"
                    )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderUnavailable(
                f"the identity provider cannot be reached ({type(exc).__name__})"
            ) from None
        try:
            return await self._id_tokens.verify(str(answer["id_token"]))
        except auth.AuthError as exc:
            raise ProviderUnavailable(f"the identity provider's ID token: {exc}") from None
