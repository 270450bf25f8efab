"""The gateway's authorization server from the settings (TOOLMESH_AUTH_DELEGATE_CLIENT_ID set)."""

from __future__ import annotations

from toolmesh.gateway.identity.states import MemoryStates, RedisStates, StateStore
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.gateway.signin.flow import SignIn
from toolmesh.gateway.signin.keys import SigningKey


def signing_key(settings: GatewaySettings) -> SigningKey | None:
    """The key of the gateway's own tokens, when it issues them (delegated sign-in)."""
    if settings.auth != "jwt" or not settings.auth_delegate_client_id:
        return None
    return SigningKey.load(settings.auth_signing_key)


def make_signin(settings: GatewaySettings, base: str, resource: str, key: SigningKey) -> SignIn:
    assert settings.auth_issuer
    assert settings.auth_delegate_client_id
    states: StateStore = RedisStates(settings.redis_url) if settings.redis_url else MemoryStates()
    secret = settings.auth_delegate_client_secret
    return SignIn(
        issuer=base, base=base, resource=resource, provider_issuer=settings.auth_issuer,
        client_id=settings.auth_delegate_client_id,
        client_secret=secret.get_secret_value() if secret is not None else None,
        scopes=settings.auth_delegate_scopes, key=key, states=states, token_seconds=settings.auth_token_seconds,
    )  # fmt: skip
