"""How a component reaches Vault (``TOOLMESH_VAULT_*``): the same variables for the gateway and a
category server, so one chart value or compose block configures both."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where the kubelet puts a pod's ServiceAccount token.
POD_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


class VaultSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOOLMESH_VAULT_", extra="ignore")

    addr: str | None = Field(
        default=None,
        description="Vault (or OpenBao) address, e.g. https://vault.vault:8200. Unset: no Vault; integrations that need it report so.",
    )
    auth_method: Literal["kubernetes", "approle", "token"] = Field(
        default="kubernetes",
        description="How to log in: kubernetes (the pod's ServiceAccount token), approle (role_id and secret_id), or token.",
    )
    auth_mount: str | None = Field(
        default=None, description="Mount path of the auth method. Unset: kubernetes or approle."
    )
    role: str | None = Field(default=None, description="kubernetes: the Vault role to log in as.")
    service_account_token_file: Path = Field(
        default=POD_TOKEN, description="kubernetes: the ServiceAccount token presented at login."
    )
    role_id: str | None = Field(default=None, description="approle: the role ID.")
    secret_id: SecretStr | None = Field(default=None, description="approle: the secret ID.")
    secret_id_file: Path | None = Field(
        default=None, description="approle: a file holding the secret ID (instead of secret_id)."
    )
    token: SecretStr | None = Field(default=None, description="token: the Vault token.")
    token_file: Path | None = Field(
        default=None, description="token: a file holding the Vault token (instead of token)."
    )
    kv_mount: str = Field(default="secret", description="Mount path of the KV version 2 engine.")
    user_prefix: str = Field(
        default="toolmesh/users",
        description="Gateway: KV path under which each user's upstream credentials are kept, <prefix>/<user>/<integration>.",
    )
    ca_cert: Path | None = Field(
        default=None, description="CA bundle that signs Vault's certificate. Unset: the system's."
    )
    timeout_seconds: float = Field(default=5.0, gt=0, description="Timeout of one Vault request.")
    cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a credential read from Vault is reused before it is read again (0: every call).",
    )

    @property
    def enabled(self) -> bool:
        return bool(self.addr)
