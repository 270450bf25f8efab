"""What MCP clients send the gateway's own authorization server is checked before anything is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from toolmesh.gateway.settings import SettingsError
from toolmesh.gateway.signin import requests
from toolmesh.gateway.signin.keys import SigningKey
from toolmesh.gateway.signin.requests import OAuthRequestError

RESOURCE = "https://mcp.example.com/mcp"
CLIENT = {"redirect_uris": ["http://127.0.0.1:5000/cb"]}
VERIFIER = "v" * 64


def params(**overrides: str) -> dict[str, str]:
    return {
        "client_id": "c", "redirect_uri": "http://127.0.0.1:5000/cb", "response_type": "code",
        "code_challenge": requests.s256(VERIFIER), "code_challenge_method": "S256", "state": "s", **overrides,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("https://app.example.com/callback", True),
        ("http://127.0.0.1:33418/callback", True),
        ("http://localhost/callback", True),
        ("http://[::1]:8000/cb", True),
        ("http://app.example.com/callback", False),
        ("https://app.example.com/callback#frag", False),
        ("myapp:/callback", False),
    ],
)
def test_redirect_uris_are_https_or_loopback_http(uri: str, allowed: bool) -> None:
    assert requests.redirect_uri_allowed(uri) is allowed


def test_a_registration_names_what_is_wrong() -> None:
    assert requests.registration({"redirect_uris": ["https://a.test/cb"], "client_name": "A"}) == {
        "redirect_uris": ["https://a.test/cb"],
        "client_name": "A",
    }
    for body, error in [
        ([], "the registration must be a JSON object"),
        ({}, "redirect_uris must list 1 to 10 URIs"),
        ({"redirect_uris": ["http://evil.test/cb"]}, "is neither https nor http on loopback"),
    ]:
        with pytest.raises(OAuthRequestError, match=error):
            requests.registration(body)


def test_an_authorization_request_needs_pkce_s256_and_the_gateways_resource() -> None:
    checked = requests.authorization(params(resource=RESOURCE), CLIENT, RESOURCE)
    assert (checked.challenge, checked.resource, checked.state) == (requests.s256(VERIFIER), RESOURCE, "s")
    for overrides, error in [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"resource": "https://other.example.com/mcp"}, "invalid_target"),
        ({"redirect_uri": "http://127.0.0.1:5000/other"}, "invalid_request"),
    ]:
        with pytest.raises(OAuthRequestError) as raised:
            requests.authorization(params(**overrides), CLIENT, RESOURCE)
        assert raised.value.error == error


def test_a_code_exchange_must_come_from_the_same_client_redirect_and_verifier() -> None:
    grant = {"client_id": "c", "redirect_uri": "http://127.0.0.1:5000/cb", "challenge": requests.s256(VERIFIER),
             "resource": RESOURCE}  # fmt: skip
    form = {"client_id": "c", "redirect_uri": "http://127.0.0.1:5000/cb", "code_verifier": VERIFIER}
    requests.exchange(form, grant)
    for overrides in (
        {"client_id": "d"},
        {"redirect_uri": "http://127.0.0.1:5000/x"},
        {"code_verifier": "w" * 64},
    ):
        with pytest.raises(OAuthRequestError) as raised:
            requests.exchange({**form, **overrides}, grant)
        assert raised.value.error == "invalid_grant"


def test_the_signing_key_is_rsa_2048_or_p256_and_a_bad_file_names_the_setting(tmp_path: Path) -> None:
    def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> Path:
        path = tmp_path / f"{id(key)}.pem"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
        return path

    assert SigningKey.load(pem(rsa.generate_private_key(65537, 2048))).algorithm == "RS256"
    key = SigningKey.load(pem(ec.generate_private_key(ec.SECP256R1())))
    assert key.algorithm == "ES256"
    token = key.sign({"iss": "https://mcp.example.com", "iat": 1}, "toolmesh-client+jwt")
    assert key.verify(token, "toolmesh-client+jwt", "https://mcp.example.com")["iat"] == 1
    with pytest.raises(SettingsError, match=r"TOOLMESH_AUTH_SIGNING_KEY: .* must hold an RSA key"):
        SigningKey.load(pem(ec.generate_private_key(ec.SECP384R1())))
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(
        SettingsError, match=r"TOOLMESH_AUTH_SIGNING_KEY: .* is not a readable PEM private key"
    ):
        SigningKey.load(tmp_path / "junk.pem")
