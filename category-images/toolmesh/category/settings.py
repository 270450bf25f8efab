"""Settings of a category server process (``TOOLMESH_CATEGORY_*``); the defaults run locally."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from toolmesh.common.logging import LogFormat
from toolmesh.vault import VaultSettings


class CategorySettings(BaseSettings):
    """Everything a category server reads from its environment, Vault's login included (read once, at start)."""

    model_config = SettingsConfigDict(env_prefix="TOOLMESH_CATEGORY_", extra="ignore")

    catalog: Path = Field(
        default=Path("."),
        description="Folder of MCPIntegration objects and their specs (local mode), or the operator's mount.",
    )
    category: str | None = Field(
        default=None, description="Serve only integrations of this category. Unset: every integration found."
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on (0.0.0.0 in a pod).")
    port: int = Field(default=8081, ge=0, le=65535, description="Port to listen on (0: any free port).")
    ops_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve /healthz, /readyz and /metrics on this port only (the operator's pods: 8090). Unset: on the MCP port.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call /mcp (JSON list: scheme://host[:port], scheme://host:* for any port, or *) besides the server's own. A request with another Origin is refused (403); one without Origin passes.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Listening on loopback: host names (JSON list, no port) the Host header may carry besides localhost, 127.0.0.1, ::1 and the public URL's; other requests are refused (421, DNS-rebinding defence). Listening elsewhere: not checked.",
    )
    credentials_dir: Path | None = Field(
        default=None,
        description="Folder of mounted Secrets, one sub-folder per Secret with one file per key.",
    )
    max_response_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Upstream response bytes kept in a tool result; the rest is cut.",
    )
    connect_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout to connect to an upstream."
    )
    max_connections_per_host: int = Field(
        default=32, ge=1, description="Pooled connections per upstream host."
    )
    egress: Literal["any", "public"] = Field(
        default="any",
        description="Where upstream requests may go: any address, or public only (loopback, private, link-local and metadata addresses refused, checked on the resolved address).",
    )
    egress_allow: list[str] = Field(
        default_factory=list,
        description="egress=public: networks (JSON list of CIDRs) allowed all the same, e.g. an internal API's.",
    )
    max_redirects: int = Field(
        default=5, ge=0, description="Same-origin redirects followed; other hosts never."
    )
    stdio_idle_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A stdio server idle this long is stopped; the next call starts it again.",
    )
    remote_clients_per_integration: int = Field(
        default=256,
        ge=1,
        le=100000,
        description="A remote MCP server whose callers bring their own credentials: most connections kept open to it, one per caller credential; the least recently used is closed to make room.",
    )
    remote_client_idle_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A caller's own connection to a remote MCP server unused this long is closed; their next call opens it again.",
    )
    spec_refresh_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="Documents at spec.openapi.spec.url are fetched again this often (revalidated with ETag and Last-Modified); a changed document is compiled again and its tools served. 0: never.",
    )
    log_level: str = Field(default="INFO", description="Log level.")
    log_format: LogFormat = Field(default="json", description="json (production) or console (development).")
    vault: VaultSettings = Field(
        default_factory=VaultSettings,
        description="How to reach Vault for spec.auth.vaultPath: the TOOLMESH_VAULT_* variables, read with these settings.",
    )

    @field_validator("egress_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network (CIDR, e.g. 10.0.0.0/8)") from None
        return value
