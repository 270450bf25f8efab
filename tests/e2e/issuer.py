"""A test authorization server that signs real JWTs with rotating RSA keys and publishes them as a
JWKS (the ``issuer`` fixture in tests/e2e/conftest.py serves it on loopback)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "https://gateway.example.test/mcp"


class Issuer:
    """Publishes its current keys at /jwks; ``rotate`` adds a new key and signs with it."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.current = ""
        self.url = ""
        self.fetches = 0
        self.named_issuer: str | None = None  # what its metadata says the issuer is (None: its URL)
        self.rotate()

    def rotate(self) -> None:
        kid = f"k{len(self.keys) + 1}"
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.current = kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def token(self, *, key: Any = None, kid: str | None = None, alg: str = "RS256", **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
            "scope": "tools:read",
            **claims,
        }
        signing = key if key is not None else self.keys[self.current]
        return jwt.encode(body, signing, algorithm=alg, headers={"kid": kid or self.current})


@contextlib.asynccontextmanager
async def serve_issuer() -> AsyncIterator[Issuer]:
    """The issuer, its JWKS at ``<url>/jwks``, named by its metadata (RFC 8414)."""
    state = Issuer()

    async def jwks(request: web.Request) -> web.Response:
        state.fetches += 1
        return web.json_response(state.jwks())

    async def metadata(request: web.Request) -> web.Response:
        return web.json_response({"issuer": state.named_issuer or state.url, "jwks_uri": f"{state.url}/jwks"})

    app = web.Application()
    app.router.add_get("/jwks", jwks)
    app.router.add_get("/.well-known/oauth-authorization-server", metadata)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()
