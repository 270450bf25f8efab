"""The caller's own upstream credentials for one call: from Vault, or through the OAuth broker.

An integration with ``spec.auth.perUser`` keeps each user's credentials (``apiKey``, ``token``, or
``username`` and ``password``) in Vault at ``<kv mount>/<user prefix>/<user>/<integration>``; one of
type ``oauth2AuthorizationCode`` keeps each user's tokens there, put by the broker. A caller who has
none yet is told how to get them, in a sentence that holds no secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from toolmesh.api.auth import Auth, AuthType
from toolmesh.common.secrets import MissingCredential, SecretStore
from toolmesh.gateway.identity.oauth import ClientCredentials, OAuthBroker, OAuthError
from toolmesh.vault import Vault, VaultError, VaultSettings

#: The keys a per-user credential of each type holds.
KEYS = {
    AuthType.API_KEY: ("apiKey",),
    AuthType.BEARER: ("token",),
    AuthType.BASIC: ("username", "password"),
}


class CredentialsNeeded(Exception):
    """The caller has no usable credentials for the integration; the text says how to get them."""


@dataclass
class UpstreamIdentity:
    settings: VaultSettings
    #: Keeps and finds the users' credentials in Vault; None: the gateway has no Vault.
    broker: OAuthBroker | None

    @classmethod
    def without_vault(cls) -> UpstreamIdentity:
        return cls(VaultSettings(addr=None), None)

    async def credentials(self, subject: str, integration: str, auth: Auth) -> dict[str, str]:
        """The caller's credentials for this call (CredentialsNeeded: none; VaultError: Vault failed)."""
        broker = self.broker
        if broker is None:
            raise CredentialsNeeded(
                f"{integration} uses each user's own credentials, which the gateway keeps in Vault: "
                "set TOOLMESH_VAULT_ADDR (and its login) for the gateway"
            )
        minutes = max(1, round(broker.pending_seconds / 60))
        if auth.type == AuthType.OAUTH2_AUTHORIZATION_CODE:
            try:
                token = await broker.access_token(subject, integration, auth)
            except OAuthError as exc:
                raise CredentialsNeeded(f"{integration}: {exc}") from None
            if token is None:
                link = await broker.connect_link(subject, integration)
                raise CredentialsNeeded(
                    f"{integration} needs the user to connect their account first: ask them to open {link} "
                    f"in a browser and sign in (the link works once, for {minutes} minutes), then call the tool again."
                )
            return {"accessToken": token}
        keys = KEYS.get(auth.type, ())
        data = await broker.user_keys(subject, integration)
        if data is None or any(not data.get(k) for k in keys):
            link = await broker.key_link(subject, integration, keys)
            raise CredentialsNeeded(
                f"{integration} needs the user's own credentials ({', '.join(keys)}): ask them to open {link} "
                f"in a browser and enter them (the link works once, for {minutes} minutes), or to store them in "
                f"Vault at {self.settings.kv_mount}/{broker.path(subject, integration)}; then call the tool again."
            )
        return {k: data[k] for k in keys}

    async def lifespan(self) -> AsyncIterator[None]:
        """While the app runs: the broker's HTTP session (token endpoints); then Vault and states closed."""
        async with aiohttp.ClientSession() as http:
            if self.broker is not None:
                self.broker.http = http
            yield
            await self.close()

    async def close(self) -> None:
        if self.broker is not None:
            await self.broker.states.close()
            await self.broker.vault.close()


def client_credentials_from(vault: Vault | None, store: SecretStore) -> ClientCredentials:
    """The broker's source of each integration's OAuth client (clientId, optional clientSecret)."""

    async def lookup(integration: str, auth: Auth) -> tuple[str, str | None]:
        if auth.vault_path is not None:
            if vault is None:
                raise OAuthError("spec.auth.vaultPath needs Vault: set TOOLMESH_VAULT_ADDR for the gateway")
            try:
                data = await vault.read(auth.vault_path)
            except VaultError as exc:
                raise OAuthError(str(exc)) from None
            if not data or not data.get("clientId"):
                raise OAuthError(f"Vault has no clientId at {vault.settings.kv_mount}/{auth.vault_path}")
            return data["clientId"], data.get("clientSecret") or None
        if auth.secret_ref is None:
            raise OAuthError(
                f"{integration}: spec.auth.secretRef or spec.auth.vaultPath must hold the OAuth client"
            )
        try:
            client_id = store.get(auth.secret_ref.name, "clientId")
        except MissingCredential as exc:
            raise OAuthError(str(exc)) from None
        try:
            secret: str | None = store.get(auth.secret_ref.name, "clientSecret")
        except MissingCredential:
            secret = None  # a public client: PKCE alone
        return client_id, secret

    return lookup
