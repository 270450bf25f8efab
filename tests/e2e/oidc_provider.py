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
import datetime
import ipaddress
import json
import os
import re
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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
async def serve_provider(trust: Path | None = None, **config: Any) -> AsyncIterator[Provider]:
    """oidc-provider on a free loopback port; ``config`` as hack/oidc-provider/server.mjs documents,
    ``trust`` a PEM certificate it trusts besides the system's (for documents a test serves)."""
    argument = json.dumps({"modules": install(), "port": 0, **config})
    env = {**os.environ, **({"NODE_EXTRA_CA_CERTS": str(trust)} if trust else {})}
    process = await asyncio.create_subprocess_exec(
        "node", str(SERVER), argument, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
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


def text_of(response: httpx2.Response) -> str:
    """A page's words, for an assertion message (the provider's error pages are mostly style)."""
    words = re.sub(r"<style.*?</style>|<[^>]+>", " ", response.text, flags=re.DOTALL)
    return " ".join(words.split())[:500]


@dataclass
class Browser:
    """The user at the provider's pages: signs in as ``login`` and consents, with plain HTTP.

    ``open`` is the SDK client's redirect handler, ``callback`` its callback handler. Each sign-in
    runs in a cookie jar of its own, as a browser would hold the provider's interaction cookies.
    """

    login: str
    redirect_uri: str
    route: Callable[[str], str] | None = None  # a load balancer's choice of replica for a URL
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
                    response = await http.get(self.route(target) if self.route else target)
                    continue
                assert response.status_code == 200, (
                    f"{response.status_code} at {response.url}: {text_of(response)}"
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


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files in ``folder``), trusted by whoever is told to."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@contextlib.asynccontextmanager
async def serve_client_document(folder: Path, redirect_uri: str) -> AsyncIterator[tuple[str, Path]]:
    """A client's metadata document (Client ID Metadata Documents) over HTTPS on loopback: its URL,
    which is the client's id, and the certificate to trust."""
    cert_file, key_file = self_signed(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    url = ""

    async def document(request: web.Request) -> web.Response:
        return web.json_response({
            "client_id": url, "client_name": "toolmesh oidc test (CIMD)", "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "none", "application_type": "native",
        })  # fmt: skip

    app = web.Application()
    app.router.add_get("/oauth/client.json", document)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}/oauth/client.json"
    try:
        yield url, cert_file
    finally:
        await runner.cleanup()
