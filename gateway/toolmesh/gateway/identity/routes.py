"""The browser's side of connecting an account, and disconnecting: ``/oauth/connect`` (the link a
tool result gives: sends the browser to the upstream's sign-in, or for a ``perUser`` integration
shows a form where the user enters their own keys, posted back to the same path),
``/oauth/callback`` (the upstream sends the browser back with a code) and ``POST
/oauth/disconnect`` (the caller, authenticated, forgets an account).

Pages say what happened; they never show a code, a token or a secret, and the key form is
served with a policy that allows no script, no frame and no other form target.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable

from aiohttp import web

from toolmesh.gateway import auth
from toolmesh.gateway.identity.oauth import (
    CALLBACK_PATH,
    CONNECT_PATH,
    DISCONNECT_PATH,
    OAuthBroker,
    OAuthError,
)
from toolmesh.gateway.identity.states import StatesUnavailable
from toolmesh.vault import VaultError

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
FORM_POLICY = {
    **NO_STORE,
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def key_form(state: str, integration: str, keys: list[str]) -> str:
    fields = "\n".join(
        f'<p><label>{html.escape(k)} <input type="password" name="{html.escape(k)}" autocomplete="off" required></label></p>'
        for k in keys
    )
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>Connect "
        f"{html.escape(integration)}</title></head><body><h1>Connect {html.escape(integration)}</h1>"
        "<p>Your own credentials for this integration. They are kept in Vault for you alone and are "
        "never shown to the agent.</p>"
        f'<form method="post"><input type="hidden" name="state" value="{html.escape(state)}">{fields}'
        '<p><button type="submit">Save</button></p></form></body></html>'
    )


def _page(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text + "\n", status=status, content_type="text/plain", headers=NO_STORE)


class Pages:
    """The handlers; ``broker`` gives the OAuth broker, or None when the gateway has none (no Vault)."""

    def __init__(self, broker: Callable[[], OAuthBroker | None]) -> None:
        self.broker = broker

    async def connect(self, request: web.Request) -> web.StreamResponse:
        current = self.broker()
        if current is None:
            return _page("This gateway brokers no upstream sign-ins.", 404)
        state = request.query.get("state", "")
        try:
            pending = await current.pending(state)
            if pending.get("kind") == "keys":
                form = key_form(state, str(pending["integration"]), list(pending["keys"]))
                return web.Response(text=form, content_type="text/html", headers=FORM_POLICY)
            location = await current.authorization_redirect(state)
        except (OAuthError, VaultError) as exc:
            return _page(str(exc), 400)
        except StatesUnavailable as exc:
            return _page(f"Try this link again in a minute: {exc}.", 503)
        raise web.HTTPFound(location, headers=NO_STORE)

    async def enter_keys(self, request: web.Request) -> web.Response:
        current = self.broker()
        if current is None:
            return _page("This gateway keeps no users' credentials.", 404)
        form = await request.post()
        values = {str(k): str(v) for k, v in form.items() if isinstance(v, str)}
        try:
            integration = await current.store_keys(values.pop("state", ""), values)
        except (OAuthError, VaultError) as exc:
            return _page(str(exc), 400)
        except StatesUnavailable as exc:
            return _page(f"Nothing was saved; submit the form again in a minute: {exc}.", 503)
        return _page(
            f"Saved your credentials for {integration}. You can close this page and return to your agent."
        )

    async def callback(self, request: web.Request) -> web.Response:
        current = self.broker()
        if current is None:
            return _page("This gateway brokers no upstream sign-ins.", 404)
        state, code = request.query.get("state", ""), request.query.get("code", "")
        if request.query.get("error"):
            with contextlib.suppress(StatesUnavailable):  # the state expires on its own anyway
                await current.states.take(state)  # the user declined: the link is spent
            reason = "".join(c for c in request.query["error"] if c.isalnum() or c == "_")[:40]
            return _page(
                f"The sign-in was not completed ({reason}). Call the tool again for a new link.", 400
            )
        if not state or not code:
            return _page("This page is where the upstream sends you back after signing in.", 400)
        try:
            _, integration = await current.complete(state, code)
        except (OAuthError, VaultError) as exc:
            return _page(str(exc), 400)
        except StatesUnavailable as exc:
            return _page(
                f"The sign-in could not be finished: {exc}; call the tool again for a new link.", 503
            )
        return _page(f"Connected {integration}. You can close this page and return to your agent.")

    async def disconnect(self, request: web.Request) -> web.Response:
        current = self.broker()
        try:
            body = await request.json()
        except ValueError:
            body = {}
        integration = body.get("integration") if isinstance(body, dict) else None
        if current is None or not isinstance(integration, str) or integration not in current.auths:
            return web.json_response({"error": "unknown integration"}, status=404)
        try:
            done = await current.disconnect(
                request[auth.PRINCIPAL].subject, integration, current.auths[integration]
            )
        except VaultError as exc:
            return web.json_response({"error": str(exc)}, status=503)
        return web.json_response({"integration": integration, "disconnected": done}, headers=NO_STORE)


def add_routes(app: web.Application, broker: Callable[[], OAuthBroker | None]) -> None:
    pages = Pages(broker)
    app.router.add_get(CONNECT_PATH, pages.connect)
    app.router.add_post(CONNECT_PATH, pages.enter_keys)
    app.router.add_get(CALLBACK_PATH, pages.callback)
    app.router.add_post(DISCONNECT_PATH, pages.disconnect)
