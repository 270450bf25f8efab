"""A stub upstream OAuth 2.0 authorization server: authorization-code grant with PKCE (S256 only),
refresh tokens, and revocation (RFC 7009), checking what a real one checks (client authentication,
single-use codes bound to their redirect URI and challenge, revoked tokens refused)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from aiohttp import web

from tests import leaks


@dataclass
class Grant:
    user: str
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str


@dataclass
class StubAuthorizationServer:
    client_id: str = "toolmesh-app"
    client_secret: str = "app-secret-9f8e7d"
    #: Who signs in at the consent page next (the test plays the user).
    login_as: str = "alice"
    #: Lifetime of the first access token of a sign-in; refreshed ones get ``refreshed_lifetime``.
    first_lifetime: int = 3600
    refreshed_lifetime: int = 3600
    url: str = ""
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> user
    revoked: list[tuple[str, str]] = field(default_factory=list)  # (token, hint)
    grants: list[str] = field(default_factory=list)
    #: Every secret value this server handed out or holds, for leak checks.
    issued: set[str] = field(default_factory=set)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    def tokens(self, user: str, lifetime: int) -> dict[str, object]:
        n = next(self._serial)
        access, refresh = f"{user}-access-{n}-x7q", f"{user}-refresh-{n}-k2w"
        self.refresh_tokens[refresh] = user
        self.issued.update({access, refresh})
        leaks.secret(access, refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": lifetime,
        }

    def client_ok(self, request: web.Request) -> bool:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Basic":
            return False
        return base64.b64decode(value).decode() == f"{self.client_id}:{self.client_secret}"

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("response_type") != "code" or q.get("client_id") != self.client_id:
            return web.Response(status=400, text="bad request")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return web.Response(status=400, text="PKCE S256 required")
        code = f"code-{secrets.token_hex(8)}-{self.login_as}"
        self.issued.add(code)
        leaks.secret(code)
        self.codes[code] = Grant(
            self.login_as, q["client_id"], q["redirect_uri"], q["code_challenge"], q.get("scope", "")
        )
        back = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
        raise web.HTTPFound(back)

    async def token(self, request: web.Request) -> web.Response:
        if not self.client_ok(request):
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        grant_type = str(form.get("grant_type"))
        self.grants.append(grant_type)
        if grant_type == "authorization_code":
            grant = self.codes.pop(str(form.get("code")), None)  # single use
            verifier = str(form.get("code_verifier", ""))
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if (
                grant is None
                or grant.redirect_uri != form.get("redirect_uri")
                or grant.challenge != challenge
            ):
                return web.json_response({"error": "invalid_grant"}, status=400)
            return web.json_response(self.tokens(grant.user, self.first_lifetime))
        if grant_type == "refresh_token":
            user = self.refresh_tokens.pop(str(form.get("refresh_token")), None)
            if user is None:
                return web.json_response({"error": "invalid_grant"}, status=400)
            return web.json_response(self.tokens(user, self.refreshed_lifetime))
        return web.json_response({"error": "unsupported_grant_type"}, status=400)

    async def revoke(self, request: web.Request) -> web.Response:
        if not self.client_ok(request):
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        token = str(form.get("token"))
        self.revoked.append((token, str(form.get("token_type_hint"))))
        self.refresh_tokens.pop(token, None)
        return web.Response(status=200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        app.router.add_post("/revoke", self.revoke)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self.issued.add(self.client_secret)
        leaks.secret(self.client_secret)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
