"""The pure parts of the brokered OAuth flow: PKCE, the authorization URL, what is kept of a token
response, when to refresh, users' Vault path segments; and the in-process flow store."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from toolmesh.gateway.identity.oauth import (
    OAuthError,
    authorization_url,
    needs_refresh,
    pkce_challenge,
    pkce_pair,
    stored_tokens,
    user_key,
)
from toolmesh.gateway.identity.states import MemoryStates


def test_pkce_uses_s256_of_a_long_random_verifier() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128  # RFC 7636 §4.1
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pkce_pair()[0] != verifier
    assert "=" not in challenge  # base64url without padding
    assert pkce_challenge(verifier) == challenge


def test_the_authorization_url_carries_the_client_the_challenge_and_the_state() -> None:
    url = authorization_url(
        "https://auth.example.com/authorize?prompt=consent", client_id="app", redirect_uri="https://gw/oauth/callback",
        scopes=["read", "write"], state="s1", challenge="c1",
    )  # fmt: skip
    parts = urlsplit(url)
    assert parts.netloc == "auth.example.com"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "prompt": "consent", "response_type": "code", "client_id": "app", "redirect_uri": "https://gw/oauth/callback",
        "state": "s1", "code_challenge": "c1", "code_challenge_method": "S256", "scope": "read write",
    }  # fmt: skip


def test_stored_tokens_keep_the_old_refresh_token_when_a_refresh_omits_it() -> None:
    first = stored_tokens(
        {"access_token": "a1", "refresh_token": "r1", "expires_in": 3600, "scope": "x"}, now=1000
    )
    assert first == {
        "accessToken": "a1",
        "tokenType": "Bearer",
        "refreshToken": "r1",
        "expiresAt": "4600",
        "scope": "x",
    }
    second = stored_tokens({"access_token": "a2", "expires_in": 60}, now=2000, previous=first)
    assert (second["accessToken"], second["refreshToken"], second["expiresAt"]) == ("a2", "r1", "2060")
    with pytest.raises(OAuthError, match="no access_token"):
        stored_tokens({"error": "x"}, now=0)


def test_a_token_is_refreshed_inside_the_margin_and_never_without_an_expiry() -> None:
    assert needs_refresh({"expiresAt": "1100"}, now=1000, margin=120) is True
    assert needs_refresh({"expiresAt": "1200"}, now=1000, margin=120) is False
    assert needs_refresh({}, now=1000) is False


def test_user_keys_are_the_subject_when_plain_and_a_digest_otherwise() -> None:
    assert user_key("alice@example.com") == "alice@example.com"
    hashed = user_key("auth0|123/../x")
    assert hashed.startswith("h-")
    assert "/" not in hashed
    assert user_key("auth0|123/../x") == hashed
    assert user_key("..").startswith("h-")
    assert user_key("api-key:0123abcd") != user_key("api-key:0123abce")


async def test_memory_states_expire_and_are_taken_once() -> None:
    now = [0.0]
    states = MemoryStates(clock=lambda: now[0])
    await states.put("a", "1", ttl=10)
    assert await states.get("a") == "1"
    assert await states.take("a") == "1"
    assert await states.take("a") is None
    await states.put("b", "2", ttl=10)
    now[0] = 11
    assert await states.get("b") is None
    assert await states.take("b") is None
