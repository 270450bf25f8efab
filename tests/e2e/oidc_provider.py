"""npm's oidc-provider, a certified OpenID provider, as the authorization server of the ``oidc``
tests: installed by hack/oidc-provider.sh into a cache outside the clone, started by Node.js with
hack/oidc-provider/server.mjs on a loopback port, stopped when the test ends.

A user signs in at the provider's development pages (any login, then consent). :class:`Browser`
plays the user for the SDK client's redirect handler: it follows the authorization URL, fills in
both forms with plain HTTP, and hands the redirect back to the client as its callback would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
import pytest
from mcp.shared.auth import AuthorizationCodeResult

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "hack" / "oidc-provider" / "server.mjs"
START_SECONDS = 20.0
FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


def install() -> str:
    """The folder holding oidc-provider's node_modules (installed once, then cached)."""
    if shutil.which("node") is None:
        pytest.fail(
            "the oidc tests need Node.js 20 or later (hack/test-deps.sh installs oidc-provider with npm)"
        )
    done = subprocess.run(
        [str(REPO / "hack" / "oidc-provider.sh")], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Provider:
    issuer: str
    log: list[str] = field(default_factory=list)

    async def client_credentials_token(self, client_id: str, secret: str, resource: str) -> str:
        """A real access token for ``resource``, issued to a confidential client (no user)."""
        async with httpx2.AsyncClient(timeout=10) as http:
            response = await http.post(
                f"{self.issuer}/token",
                data={"grant_type": "client_credentials", "resource": resource, "scope": "tools:read"},
                auth=(client_id, secret),
            )
        response.raise_for_status()
        return str(response.json()["access_token"])


@contextlib.asynccontextmanager
async def serve_provider(**config: Any) -> AsyncIterator[Provider]:
    """oidc-provider on a free loopback port; ``config`` as hack/oidc-provider/server.mjs documents."""
    argument = json.dumps({"modules": install(), "port": 0, **config})
    process = await asyncio.create_subprocess_exec(
        "node", str(SERVER), argument, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_SECONDS)
        if not line.startswith(b"listening "):
            errors = await asyncio.wait_for(process.stderr.read(), START_SECONDS)
            pytest.fail(f"oidc-provider did not start: {(line + errors).decode(errors='replace')[-2000:]}")
        yield Provider(line.decode().split()[1])
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), START_SECONDS)


@dataclass
class Browser:
    """The user at the provider's pages: signs in as ``login`` and consents, with plain HTTP.

    ``open`` is the SDK client's redirect handler, ``callback`` its callback handler. Each sign-in
    runs in a cookie jar of its own, as a browser would hold the provider's interaction cookies.
    """

    login: str
    redirect_uri: str
    visits: list[str] = field(default_factory=list)
    _result: AuthorizationCodeResult | None = None

    async def open(self, authorization_url: str) -> None:
        self.visits.append(authorization_url)
        async with httpx2.AsyncClient(timeout=10, follow_redirects=False) as http:
            response = await http.get(authorization_url)
            for _ in range(12):  # authorize → login → authorize → consent → authorize → back
                location = response.headers.get("location")
                if response.status_code in (302, 303) and location:
                    target = urljoin(str(response.url), location)
                    if target.startswith(self.redirect_uri):
                        self._result = self._parse(target)
                        return
                    response = await http.get(target)
                    continue
                assert response.status_code == 200, (
                    f"{response.status_code} at {response.url}: {response.text[:500]}"
                )
                action = FORM_ACTION.search(response.text)
                assert action, f"no form at {response.url}: {response.text[:500]}"
                form = {"prompt": "consent"} if 'value="consent"' in response.text else {
                    "prompt": "login", "login": self.login, "password": "any"
                }  # fmt: skip
                response = await http.post(urljoin(str(response.url), action.group(1)), data=form)
        raise AssertionError(f"the sign-in did not come back to {self.redirect_uri}")

    @staticmethod
    def _parse(url: str) -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(url).query)
        if "error" in query:
            raise AssertionError(f"the provider refused: {query}")
        return AuthorizationCodeResult(
            code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
        )

    async def callback(self) -> AuthorizationCodeResult:
        assert self._result is not None, "the redirect handler did not finish a sign-in"
        result, self._result = self._result, None
        return result
