"""Who is calling: the gateway as an OAuth 2.1 resource server (MCP authorization), or API keys.

* ``jwt`` (the default): a bearer JWT signed by the configured issuer, checked against its JWKS
  (signature with an allow-listed algorithm, ``iss``, ``aud``, ``exp``/``nbf``), keys fetched and
  cached, refetched (rate-limited) when a token names an unknown key, so key rotation just works.
  A refused request gets 401 with a ``WWW-Authenticate`` challenge pointing at the protected
  resource metadata (RFC 9728), which names the authorization server.
* ``api-key``: ``Authorization: Bearer <key>`` against SHA-256 digests of the allowed keys
  (constant-time comparison; the keys themselves are never kept).
* ``none``: no check, for local development only, and only when asked for.

Token verification is PyJWT's; this module fetches keys and turns failures into one-line reasons.
Wrong credentials are throttled per client address (:class:`FailureThrottle`): past the budget,
the client's requests are answered 429 without being checked until it refills, so keys and tokens
cannot be guessed at speed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
import time
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from toolmesh.gateway import authserver

log = structlog.get_logger("toolmesh.gateway")
METADATA_PATH = "/.well-known/oauth-protected-resource"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
# A token naming an unknown key triggers a refetch (the issuer rotated its keys), at most once per
# key id per UNKNOWN_KID_RETRY seconds and once per REFETCH_FLOOR seconds overall: tokens with
# made-up key ids cannot turn the gateway into a load generator against the issuer.
UNKNOWN_KID_RETRY = 60.0
REFETCH_FLOOR = 1.0


class AuthError(Exception):
    """The request's credentials were refused; the message is safe to show (no token content)."""


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    method: str = "jwt"


PRINCIPAL = web.RequestKey("principal", Principal)
#: The caller of the MCP request being handled (set by the middleware, read by the service).
CALLER: ContextVar[Principal] = ContextVar("toolmesh_caller")
ANONYMOUS = Principal("anonymous", method="none")


def caller() -> Principal:
    """Who is calling (anonymous outside a request, and with TOOLMESH_AUTH=none)."""
    return CALLER.get(ANONYMOUS)


@dataclass
class JwksCache:
    url: str | None  # None: the jwks_uri of the issuer's metadata (authserver), read on first use
    issuer: str = ""
    http: aiohttp.ClientSession | None = None  # set when the app starts
    ttl: float = 600.0
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    _fetched: float = -1e9
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tried: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fixed(cls, keys: dict[str, jwt.PyJWK]) -> JwksCache:
        """Keys known in advance (the gateway's own, when it issues the tokens): never fetched."""
        return cls(None, _keys=dict(keys), _fetched=math.inf)

    async def key(self, kid: str | None) -> jwt.PyJWK:
        now = time.monotonic()
        unknown = kid is not None and kid not in self._keys
        if now - self._fetched > self.ttl:
            await self._refresh()
        elif (
            unknown
            and now - self._tried.get(kid or "", -1e9) > UNKNOWN_KID_RETRY
            and now - self._fetched > REFETCH_FLOOR
        ):
            self._tried[kid or ""] = now
            await self._refresh()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        found = self._keys.get(kid or "")
        if found is None:
            raise AuthError("the token is signed with a key the issuer does not publish")
        return found

    async def _refresh(self) -> None:
        async with self._lock:
            if self.http is None:
                raise AuthError("the gateway is not started")
            if self.url is None:
                try:
                    self.url = await authserver.jwks_uri(self.http, self.issuer)
                except authserver.DiscoveryError as exc:
                    log.warning("auth.issuer_metadata_unavailable", issuer=self.issuer, error=str(exc))
                    raise AuthError("the issuer's keys cannot be fetched right now") from None
            try:
                async with self.http.get(self.url, timeout=aiohttp.ClientTimeout(total=10)) as response:
                    response.raise_for_status()
                    document = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("auth.jwks_unavailable", url=self.url, error=str(exc) or type(exc).__name__)
                if not self._keys:
                    raise AuthError("the issuer's keys cannot be fetched right now") from None
                return
            keys = {}
            for entry in document.get("keys", []):
                try:
                    parsed = jwt.PyJWK(entry)
                except jwt.PyJWTError:
                    continue  # a key of a type or algorithm we do not accept
                keys[str(entry.get("kid", ""))] = parsed
            self._keys = keys
            self._fetched = time.monotonic()


@dataclass
class Authenticator:
    mode: str  # jwt | api-key | none
    issuer: str | None = None
    audience: str | None = None
    jwks: JwksCache | None = None
    api_key_digests: frozenset[str] = frozenset()
    leeway: float = 30.0

    async def lifespan(self) -> AsyncIterator[None]:
        """While the app runs: the HTTP session that fetches the issuer's keys (jwt only)."""
        if self.jwks is None:
            yield
            return
        async with aiohttp.ClientSession() as http:
            self.jwks.http = http
            yield

    async def authenticate(self, headers: Any) -> Principal:
        if self.mode == "none":
            return Principal("anonymous", method="none")
        header = str(headers.get("Authorization", ""))
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthError("missing bearer token")
        credentials = credentials.strip()
        if self.mode == "api-key":
            digest = hashlib.sha256(credentials.encode()).hexdigest()
            if any(hmac.compare_digest(digest, allowed) for allowed in self.api_key_digests):
                return Principal(f"api-key:{digest[:12]}", method="api-key")
            raise AuthError("unknown API key")
        return await self.verify(credentials)

    async def verify(self, token: str) -> Principal:
        """The caller a JWT names, if it is valid for this issuer and audience (AuthError otherwise)."""
        if self.jwks is None or not self.issuer or not self.audience:
            raise AuthError("the gateway's token check is not configured")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            shown = re.sub(r"[^A-Za-z0-9]", "", str(header.get("alg")))[:16]  # it goes into a response header
            raise AuthError(f"token algorithm '{shown}' is not accepted")
        key = await self.jwks.key(header.get("kid"))
        try:
            claims = jwt.decode(
                token, key=key, algorithms=list(ALGORITHMS), audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": ["exp", "iss", "aud", "sub"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token is not for this resource (aud)") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token is from another issuer (iss)") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from None
        scopes = claims.get("scope") or claims.get("scp") or ""
        scope_set = frozenset(scopes.split() if isinstance(scopes, str) else map(str, scopes))
        groups = frozenset(str(g) for g in claims.get("groups") or [])
        return Principal(str(claims["sub"]), scope_set, groups)


def metadata(resource: str, issuer: str | None, scopes: list[str]) -> dict[str, Any]:
    """OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint."""
    document: dict[str, Any] = {"resource": resource, "bearer_methods_supported": ["header"]}
    if issuer:
        document["authorization_servers"] = [issuer]
    if scopes:
        document["scopes_supported"] = scopes
    return document


@dataclass
class FailureThrottle:
    """Wrong credentials per client: ``per_minute`` of them at once, then one per ``60/per_minute`` s.

    A token bucket per client address, spent only by wrong credentials (a request without any, how
    an MCP client discovers the metadata, costs nothing); full buckets are forgotten, so memory
    holds only clients that failed recently (at most ``max_clients``, the fullest dropped first).
    """

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    max_clients: int = 10_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # client → (tokens, at)

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (float(self.per_minute), now))
        return min(float(self.per_minute), tokens + (now - at) * self.per_minute / 60.0)

    def retry_after(self, client: str) -> float:
        """0 if ``client`` may try credentials now, else seconds until it may."""
        if self.per_minute <= 0 or client not in self._buckets:
            return 0.0
        tokens = self._tokens(client, self.clock())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) * 60.0 / self.per_minute

    def failed(self, client: str) -> None:
        if self.per_minute <= 0:
            return
        now = self.clock()
        self._buckets[client] = (max(0.0, self._tokens(client, now) - 1.0), now)
        if len(self._buckets) > self.max_clients:
            full = sorted(self._buckets, key=lambda c: self._tokens(c, now), reverse=True)
            for forgotten in full[: len(self._buckets) - self.max_clients]:
                del self._buckets[forgotten]

    def succeeded(self, client: str) -> None:
        now = self.clock()
        if client in self._buckets and self._tokens(client, now) >= self.per_minute:
            del self._buckets[client]


def middleware(
    authenticator: Authenticator,
    metadata_url: str,
    protected: tuple[str, ...],
    throttle: FailureThrottle | None = None,
) -> Any:
    """Checks every request to a ``protected`` path (one ending in ``/``: every path under it); a
    refusal is a 401 with a Bearer challenge."""
    throttle = throttle if throttle is not None else FailureThrottle(0)
    prefixes = tuple(p for p in protected if p.endswith("/"))

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in protected and not request.path.startswith(prefixes):
            return await handler(request)
        client = request.remote or ""
        if wait := throttle.retry_after(client):
            log.info("auth.throttled", path=request.path, client=client)
            return web.json_response(
                {
                    "error": "too_many_failures",
                    "error_description": "too many wrong credentials; try again later",
                },
                status=429,
                headers={"Retry-After": str(max(1, round(wait + 0.5)))},
            )
        try:
            request[PRINCIPAL] = await authenticator.authenticate(request.headers)
            CALLER.set(request[PRINCIPAL])
            throttle.succeeded(client)
        except AuthError as exc:
            if "Authorization" in request.headers:
                throttle.failed(client)
            log.info("auth.refused", path=request.path, reason=str(exc))
            challenge = (
                f'Bearer error="invalid_token", error_description="{exc}", resource_metadata="{metadata_url}"'
            )
            if "missing" in str(exc):
                challenge = f'Bearer resource_metadata="{metadata_url}"'
            return web.json_response(
                {"error": "invalid_token", "error_description": str(exc)},
                status=401,
                headers={"WWW-Authenticate": challenge},
            )
        return await handler(request)

    return check
