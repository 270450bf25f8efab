"""Settings of the operator process (``TOOLMESH_OPERATOR_*``)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from toolmesh.common.logging import LogFormat

DEFAULT_IMAGE = "ghcr.io/toolmesh/toolmesh-category:0.1.0"  # the Dockerfile's `category` target
#: Category server settings the operator sets itself (builders.container).
RESERVED_CATEGORY_SETTINGS = frozenset({"CATALOG", "CATEGORY", "HOST", "PORT", "OPS_PORT", "CREDENTIALS_DIR"})


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOOLMESH_OPERATOR_", extra="ignore")

    category_image: str = Field(
        default=DEFAULT_IMAGE, description="Image of category servers whose MCPCategory sets no image."
    )
    category_settings: dict[str, str] = Field(
        default_factory=dict,
        description='Settings given to every category server (JSON object), by name without the TOOLMESH_CATEGORY_ prefix, e.g. {"SPEC_REFRESH_SECONDS": "600"}. The ones the operator sets itself (CATEGORY, HOST, PORT, OPS_PORT, CREDENTIALS_DIR) are refused.',
    )
    namespaces: list[str] = Field(
        default_factory=list, description="Namespaces to watch (JSON list). Empty: every namespace."
    )
    resync_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Every category is reconciled this often (scale-to-zero deadlines, drift of fields not watched).",
    )
    spec_fetch_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout to fetch an integration's spec from its URL."
    )
    spec_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Largest spec document read from a URL or ConfigMap."
    )
    max_configmap_bytes: int = Field(
        default=900 * 1024,
        ge=4096,
        le=1024 * 1024,
        description="Catalog ConfigMaps are split to stay under this size (the API server's limit is 1 MiB).",
    )
    vault_addr: str | None = Field(
        default=None,
        description="Vault address given to category servers, which log in with their ServiceAccount (kubernetes auth). Unset: no Vault.",
    )
    vault_auth_mount: str = Field(
        default="kubernetes", description="Mount path of Vault's kubernetes auth method."
    )
    vault_audience: str = Field(
        default="vault", description="Audience of the ServiceAccount token projected for the Vault login."
    )
    vault_kv_mount: str = Field(default="secret", description="Mount path of Vault's KV version 2 engine.")
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP endpoint of an OpenTelemetry Collector given to category servers (their OTEL_EXPORTER_OTLP_ENDPOINT), e.g. http://otel-collector.observability:4318. Unset: they do not trace.",
    )
    liveness_endpoint: str | None = Field(
        default=None,
        description="Where kopf serves its liveness probe, e.g. http://0.0.0.0:8080/healthz (the chart's probes). Unset: none.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of /metrics (Prometheus; also /healthz and /readyz), e.g. 8081 (the chart's). Unset: not served.",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address /metrics listens on (the chart's: 0.0.0.0)."
    )
    workers: int = Field(default=8, ge=1, le=64, description="Reconciles running at once.")
    log_level: str = Field(default="INFO", description="Log level.")
    log_format: LogFormat = Field(default="json", description="json (production) or console (development).")

    @field_validator("category_settings")
    @classmethod
    def _category_settings(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                raise ValueError(f"{name!r} is not a setting name (upper case, without TOOLMESH_CATEGORY_)")
            if name in RESERVED_CATEGORY_SETTINGS:
                raise ValueError(f"{name} is set by the operator itself for each category server")
        return value
