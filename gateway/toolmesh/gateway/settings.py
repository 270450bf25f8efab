"""Settings of the gateway (``TOOLMESH_*``); the defaults run a local stack with no cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from toolmesh.common import startup
from toolmesh.common.logging import LogFormat
from toolmesh.gateway.index.model import default_cache
from toolmesh.vault import VaultSettings


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and how to fix it, in one line."""


#: What reading or checking the settings raises when the environment is wrong (never a bug).
CONFIGURATION_ERRORS: tuple[type[Exception], ...] = (SettingsError, *startup.SETTINGS_ERRORS)


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOOLMESH_", extra="ignore")

    source: Literal["folder", "cluster"] = Field(
        default="folder",
        description="Where the catalog comes from: a folder of objects (local mode) or the cluster's (watched).",
    )
    catalog: Path = Field(
        default=Path("examples/catalog"),
        description="Folder of MCPCategory/MCPIntegration objects (local mode).",
    )
    namespace: str | None = Field(
        default=None,
        description="Cluster mode: namespace of the MCPCategory/MCPIntegration objects. Unset: the gateway's own.",
    )
    kubeconfig: str | None = Field(
        default=None,
        description="Cluster mode outside a pod: kubeconfig file. Unset: in-cluster, else $KUBECONFIG.",
    )
    category_endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="MCP URL per category (JSON object): a server run elsewhere, e.g. a docker-compose service. Cluster mode: instead of the one the operator publishes; folder mode: instead of starting one.",
    )
    demand_renew_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Cluster mode: how often a category in use renews its demand Lease (more often when a third of its idleAfter is shorter).",
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port to listen on (0: any free port).")
    ops_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve /healthz, /readyz and /metrics on this port only (the chart: 9090, reachable in the cluster alone). Unset: on the MCP port, as for local development.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call /mcp (JSON list: scheme://host[:port], scheme://host:* for any port, or *) besides the gateway's own (its host and public URL; localhost when it listens on loopback). A request with another Origin is refused (403, DNS-rebinding defence); one without Origin passes.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Listening on loopback: host names (JSON list, no port) the Host header may carry besides localhost, 127.0.0.1, ::1 and the public URL's; other requests are refused (421, DNS-rebinding defence). Listening elsewhere: not checked.",
    )
    direct_tools_limit: int = Field(
        default=32,
        ge=0,
        description="Up to this many tools, tools/list shows them directly; above, the meta-tools.",
    )
    search_limit: int = Field(
        default=8, ge=1, le=50, description="Tools a search returns when the caller names no limit."
    )
    search_token_budget: int = Field(
        default=1500, ge=100, description="Most tokens (chars/4) a search result may take."
    )
    search_more_names: int = Field(
        default=100,
        ge=0,
        le=200,
        description=(
            "Tools a search without a limit names after its result lines, within the token budget "
            "(0: the result lines alone)."
        ),
    )
    trace_query_text: bool = Field(
        default=False,
        description="Record each search's query text on its trace span (tracing on: OTEL_EXPORTER_OTLP_ENDPOINT). Off: spans carry the results and their scores, never what was asked.",
    )
    qdrant_url: str | None = Field(
        default=None,
        description="Keep tool vectors in this Qdrant server (collection toolmesh-tools). Unset: in-process.",
    )
    lexical_only: bool = Field(default=False, description="Route with BM25 alone (no embedding model).")
    learning: Literal["off", "caller", "shared"] = Field(
        default="off",
        description="Learn from outcomes: which tool a caller calls after a search raises it for close searches. caller: each caller's own outcomes move only their rankings; shared: everyone's move everyone's. Kept in process (query vectors, never query text). Needs the embedding model.",
    )
    learning_half_life_days: float = Field(
        default=7.0,
        gt=0,
        description="How fast learned outcomes fade: their weight halves in this many days.",
    )
    category_idle_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A local category server with no call under way, and none begun or ended for this long, is stopped.",
    )
    category_start_seconds: float = Field(
        default=30.0, gt=0, description="How long to wait for a category server to be ready."
    )
    call_timeout_seconds: float = Field(
        default=120.0, gt=0, description="Longest a forwarded tool call may take."
    )
    auth: Literal["jwt", "api-key", "none"] = Field(
        default="jwt",
        description="How callers authenticate: jwt (OAuth 2.1 bearer tokens of auth_issuer), api-key, or none (local development only).",
    )
    auth_issuer: str | None = Field(
        default=None,
        description="jwt: the authorization server's issuer URL (the iss claim), as its metadata names it; named in the protected resource metadata for MCP clients to discover it.",
    )
    auth_audience: str | None = Field(
        default=None,
        description="jwt: the aud claim tokens must carry. Unset: the resource identifier of /mcp (<public URL>/mcp, host in lower case), which MCP clients ask tokens for (RFC 8707); set it only for an issuer that cannot put that in aud. Ignored with TOOLMESH_AUTH_DELEGATE_CLIENT_ID (the gateway's own tokens carry the resource).",
    )
    auth_jwks_url: str | None = Field(
        default=None,
        description="jwt: where the issuer's signing keys are. Unset: the jwks_uri of the issuer's metadata (RFC 8414 or OpenID discovery).",
    )
    auth_scopes: list[str] = Field(
        default_factory=list, description="jwt: scopes advertised in the resource metadata."
    )
    auth_delegate_client_id: str | None = Field(
        default=None,
        description="jwt, for an issuer that does not register clients: the gateway's own OAuth client there. Set: the gateway is the authorization server MCP clients see; it registers them, sends users to the issuer to sign in, and issues its own tokens for /mcp.",
    )
    auth_delegate_client_secret: SecretStr | None = Field(
        default=None,
        description="jwt with TOOLMESH_AUTH_DELEGATE_CLIENT_ID: that client's secret (client_secret_basic). Unset: a public client (PKCE alone).",
    )
    auth_delegate_scopes: list[str] = Field(
        default_factory=lambda: ["openid"],
        description="jwt with TOOLMESH_AUTH_DELEGATE_CLIENT_ID: scopes asked of the issuer at sign-in (JSON list); the ID token's sub and groups claims name the caller.",
    )
    auth_signing_key: Path | None = Field(
        default=None,
        description="jwt with TOOLMESH_AUTH_DELEGATE_CLIENT_ID: PEM file of the key that signs the gateway's tokens (RSA 2048+ or EC P-256), the same in every replica. Unset: a key made at start (one replica; tokens end with it).",
    )
    auth_token_seconds: int = Field(
        default=3600,
        ge=60,
        le=86400,
        description="jwt with TOOLMESH_AUTH_DELEGATE_CLIENT_ID: lifetime of the tokens the gateway issues.",
    )
    auth_api_keys: list[str] = Field(
        default_factory=list, description="api-key: SHA-256 hex digests of the accepted keys (JSON list)."
    )
    auth_failures_per_minute: int = Field(
        default=30,
        ge=0,
        description="Wrong credentials a client address may send at once, then one per 60/N seconds; beyond, its requests get 429 unchecked. 0: no limit.",
    )
    limits_caller_per_minute: int = Field(
        default=0,
        ge=0,
        description="Calls per minute one caller (token subject) may make, all tools together; the calls over it are answered with a retry-after and not forwarded. Counted in Redis with TOOLMESH_REDIS_URL (every replica together). 0: no limit.",
    )
    limits_caller_tool_per_minute: int = Field(
        default=0, ge=0, description="Calls per minute one caller may make to any one tool. 0: no limit."
    )
    limits_integration_per_minute: int = Field(
        default=0,
        ge=0,
        description="Calls per minute to one integration's tools, all callers together, where its spec.limits.callsPerMinute is unset. 0: no limit.",
    )
    limits_integration_caller_per_minute: int = Field(
        default=0,
        ge=0,
        description="Calls per minute one caller may make to one integration's tools, where its spec.limits.perUserCallsPerMinute is unset. 0: no limit.",
    )
    breaker_failures: int = Field(
        default=5,
        ge=0,
        description="Consecutive outages (category server or upstream unreachable, timed out, or HTTP 5xx) that open an integration's circuit: its calls then fail fast, and searches mark its tools unavailable. 0: no circuit breaker.",
    )
    breaker_cooldown_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long an open circuit stays open before one trial call is let through (a success closes it, a failure opens it again).",
    )
    credentials_dir: Path | None = Field(
        default=None,
        description="Folder of mounted Secrets (one sub-folder per Secret): the OAuth clients of authorization-code integrations that use secretRef.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by every gateway replica: OAuth sign-ins in progress, rate-limit counts, shared learning, and description vectors (TOOLMESH_SHARED_VECTORS). Unset: in process (one replica).",
    )
    shared_vectors: bool = Field(
        default=True,
        description="With TOOLMESH_REDIS_URL: keep description vectors in Redis too, so that a replica reads what another embedded instead of embedding it again (about 1.6 KB per tool; unused vectors expire after 30 days).",
    )
    oauth_pending_seconds: float = Field(
        default=600.0,
        gt=0,
        le=3600,
        description="How long a connect link for an upstream sign-in stays valid.",
    )
    cache: Path = Field(
        default_factory=default_cache,
        description="Folder of the vector cache (and of the model, when it is built on first use). Unset: $XDG_CACHE_HOME/toolmesh, else ~/.cache/toolmesh.",
    )
    model_dir: Path | None = Field(
        default=None,
        description="The embedding model's folder, built beforehand (the image bakes one in, read-only). Unset: built on first use in the cache.",
    )
    embedding_variant: Literal["fast", "exact"] = Field(
        default="fast",
        description="fast: the model with int8 activations (about twice as fast); exact: the pinned file as it is.",
    )
    vault: VaultSettings = Field(
        default_factory=VaultSettings,
        description="Where users' own upstream credentials are kept (TOOLMESH_VAULT_*; unset TOOLMESH_VAULT_ADDR: no Vault).",
    )
    console: bool = Field(
        default=True,
        description="Serve the read-only web console at /console (the catalogue, a search playground, categories, recent calls), behind the same authentication and tool access as /mcp. false: not served.",
    )
    public_url: str | None = Field(
        default=None,
        description="The gateway's external base URL, as MCP clients connect to it: <public URL>/mcp is the OAuth resource identifier (RFC 9728, RFC 8707). Unset: http://host:port; required with jwt when listening on every address.",
    )
    log_level: str = Field(default="INFO", description="Log level.")
    log_format: LogFormat = Field(
        default="auto",
        description="console (development), json (production), or auto: console when stderr is a terminal, else json.",
    )

    @field_validator("public_url", "auth_issuer", "auth_jwks_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        """An identifier MCP clients and tokens compare as strings: http(s), a host, no query or fragment."""
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"{value!r} is not an http(s) URL with a host and no query or fragment")
        return value

    @field_validator("cache", "model_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object, info: ValidationInfo) -> object:
        """TOOLMESH_CACHE= (empty) means unset, as it did when components read it themselves."""
        if value == "":
            return default_cache() if info.field_name == "cache" else None
        return value
