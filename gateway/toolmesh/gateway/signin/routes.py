"""HTTP of the gateway's authorization server: metadata, JWKS, registration, authorization, the
identity provider's return, and the token endpoint. Errors follow RFC 6749 §5.2 (JSON) and §4.1.2.1
(an untrusted client or redirect URI gets a page, never a redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit

import structlog
from aiohttp import web

from toolmesh.gateway import auth
from toolmesh.gateway.identity.states import StatesUnavailable
from toolmesh.gateway.signin import requests
from toolmesh.gateway.signin.flow import ClientUnknown, ProviderUnavailable, SignIn
from toolmesh.gateway.signin.requests import OAuthRequestError

log = structlog.get_logger("toolmesh.gateway")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}
SIGN_INS_PER_MINUTE = 30


def _error(exc: OAuthRequestError, status: int = 400) -> web.Response:
    return web.json_response(
        {"error": exc.error, "error_description": str(exc)}, status=status, headers=NO_STORE
    )


def _page(text: str, status: int) -> web.Response:
    return web.Response(text=text + "\n", status=status, content_type="text/plain", headers=NO_STORE)


def add_routes(app: web.Application, signin: SignIn, scopes: list[str]) -> None:
    document = requests.metadata(signin.issuer, signin.base, scopes)
    # Each authorization request keeps a sign-in in progress for ten minutes: a budget per client
    # address (a person needs one or two) keeps a flood from growing the store without bound.
    starts = auth.FailureThrottle(SIGN_INS_PER_MINUTE)
    path = urlsplit(signin.issuer).path.rstrip("/")

    async def metadata(request: web.Request) -> web.Response:
        return web.json_response(document)

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(signin.key.jwks())

    async def register(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        try:
            return web.json_response(signin.register(body), status=201, headers=NO_STORE)
        except OAuthRequestError as exc:
            return _error(exc)

    async def authorize(request: web.Request) -> web.Response:
        client = request.remote or ""
        if wait := starts.retry_after(client):
            return web.Response(
                text="Too many sign-ins from this address; try again shortly.\n", status=429,
                headers={**NO_STORE, "Retry-After": str(max(1, round(wait + 0.5)))},
            )  # fmt: skip
        starts.failed(client)
        try:
            target = await signin.authorize(request.query)
        except ClientUnknown as exc:
            return _page(f"This sign-in cannot continue: {exc}.", 400)
        except OAuthRequestError as exc:
            pending = {"redirect_uri": request.query["redirect_uri"], "state": request.query.get("state")}
            target = signin.back(pending, {"error": exc.error, "error_description": str(exc)})
        except (ProviderUnavailable, StatesUnavailable) as exc:
            log.warning("signin.unavailable", step="authorize", error=str(exc))
            return _page(f"Sign-in is unavailable right now: {exc}", 503)
        raise web.HTTPFound(target, headers=NO_STORE)

    async def signed_in(request: web.Request) -> web.Response:
        try:
            target = await signin.signed_in(request.query)
        except ClientUnknown as exc:
            return _page(f"This sign-in cannot continue: {exc}.", 400)
        except (ProviderUnavailable, StatesUnavailable) as exc:
            log.warning("signin.unavailable", step="signed_in", error=str(exc))
            return _page(f"Sign-in failed: {exc}", 502)
        raise web.HTTPFound(target, headers=NO_STORE)

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        try:
            return web.json_response(await signin.token(form), headers=NO_STORE)
        except OAuthRequestError as exc:
            return _error(exc)
        except StatesUnavailable as exc:
            return _error(OAuthRequestError("temporarily_unavailable", str(exc)), 503)

    app.router.add_get(requests.METADATA_PATH, metadata)
    if path:
        app.router.add_get(requests.METADATA_PATH + path, metadata)  # RFC 8414 §3.1, an issuer with a path
    app.router.add_get(requests.JWKS_PATH, jwks)
    app.router.add_post(requests.REGISTER_PATH, register)
    app.router.add_get(requests.AUTHORIZE_PATH, authorize)
    app.router.add_get(requests.SIGNED_IN_PATH, signed_in)
    app.router.add_post(requests.TOKEN_PATH, token)
