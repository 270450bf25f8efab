"""The key the gateway signs its own tokens and client registrations with, and its public JWKS.

A PEM file (``TOOLMESH_AUTH_SIGNING_KEY``, RSA or EC P-256; every replica mounts the same one), or
a P-256 key made at start for a single replica (its tokens die with it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from toolmesh.gateway.settings import SettingsError


@dataclass(frozen=True)
class SigningKey:
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    algorithm: str
    kid: str

    @classmethod
    def load(cls, path: Path | None) -> SigningKey:
        if path is None:
            return cls.of(ec.generate_private_key(ec.SECP256R1()))
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise SettingsError(
                f"TOOLMESH_AUTH_SIGNING_KEY: {path} is not a readable PEM private key ({type(exc).__name__})"
            ) from None
        if isinstance(loaded, rsa.RSAPrivateKey) and loaded.key_size >= 2048:
            return cls.of(loaded)
        if isinstance(loaded, ec.EllipticCurvePrivateKey) and isinstance(loaded.curve, ec.SECP256R1):
            return cls.of(loaded)
        raise SettingsError(
            f"TOOLMESH_AUTH_SIGNING_KEY: {path} must hold an RSA key (2048 bits or more) or an EC P-256 key"
        )

    @classmethod
    def of(cls, private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> SigningKey:
        der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        algorithm = "RS256" if isinstance(private, rsa.RSAPrivateKey) else "ES256"
        return cls(private, algorithm, hashlib.sha256(der).hexdigest()[:16])

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        document = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**document, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def verifier(self) -> dict[str, jwt.PyJWK]:
        """For :meth:`toolmesh.gateway.auth.JwksCache.fixed`."""
        return {self.kid: jwt.PyJWK(self.public_jwk())}

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid, "typ": typ}
        )

    def verify(self, token: str, typ: str, issuer: str) -> dict[str, Any]:
        """Claims of a token this key signed with header ``typ``; raises jwt.PyJWTError otherwise."""
        if jwt.get_unverified_header(token).get("typ") != typ:
            raise jwt.InvalidTokenError(f"not a {typ}")
        claims: dict[str, Any] = jwt.decode(
            token, self.private.public_key(), algorithms=[self.algorithm], issuer=issuer,
            options={"require": ["iss", "iat"], "verify_aud": False},
        )  # fmt: skip
        return claims
