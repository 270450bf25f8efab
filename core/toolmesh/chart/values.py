"""``charts/toolmesh/values.yaml`` as a model: every value documented, unknown values rejected.

``values.schema.json`` is generated from this model (``toolmesh crds``; checked in CI), so a typo
in a user's values file fails ``helm install`` with a message naming the value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

URL_OR_EMPTY = r"^(https?://[^/?#\s]+[^?#\s]*)?$"  # an http(s) URL with a host, no query or fragment


class Values(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class Image(Values):
    registry: Annotated[str, Field(description="Registry of the toolmesh images.")] = "ghcr.io"
    repository: Annotated[
        str, Field(description="Repository prefix; the images are <prefix>-operator, -gateway and -category.")
    ] = "toolmesh/toolmesh"
    tag: Annotated[str, Field(description="Image tag. Empty: the chart's appVersion.")] = ""
    pull_policy: Annotated[
        Literal["Always", "IfNotPresent", "Never"],
        Field(description="Pull policy of every toolmesh container."),
    ] = "IfNotPresent"


class Crds(Values):
    install: Annotated[
        bool, Field(description="Install the MCPCategory and MCPIntegration CRDs with the chart.")
    ] = True
    keep: Annotated[
        bool,
        Field(
            description="Keep the CRDs (and so every MCPCategory and MCPIntegration) when the release is uninstalled."
        ),
    ] = True


class Resources(Values):
    requests: Annotated[
        dict[str, str], Field(description="Resource requests, e.g. {cpu: 100m, memory: 256Mi}.")
    ] = Field(default_factory=dict)
    limits: Annotated[dict[str, str], Field(description="Resource limits, e.g. {memory: 512Mi}.")] = Field(
        default_factory=dict
    )


class Operator(Values):
    enabled: Annotated[bool, Field(description="Run the operator.")] = True
    replicas: Annotated[
        int, Field(description="Operator replicas (one is active; kopf peering is off).", ge=0, le=1)
    ] = 1
    namespaces: Annotated[
        list[str], Field(description="Namespaces whose MCPCategory/MCPIntegration it reconciles. Empty: all.")
    ] = Field(default_factory=list)
    resync_seconds: Annotated[int, Field(description="Every category is reconciled this often.", ge=5)] = 60
    category_settings: Annotated[
        dict[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")], str],
        Field(
            description='Settings of every category server, by name without the TOOLMESH_CATEGORY_ prefix, e.g. {SPEC_REFRESH_SECONDS: "600", REMOTE_CLIENTS_PER_INTEGRATION: "64"} (see docs/operations).'
        ),
    ] = Field(default_factory=dict)
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], Field(description="Log level.")] = (
        "INFO"
    )
    resources: Annotated[Resources, Field(description="Operator container resources.")] = Field(
        default_factory=lambda: Resources(
            requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "768Mi"}
        )
    )


class Autoscaling(Values):
    enabled: Annotated[bool, Field(description="Scale the gateway with an HPA on CPU.")] = False
    min_replicas: Annotated[int, Field(description="Fewest gateway pods.", ge=1)] = 2
    max_replicas: Annotated[int, Field(description="Most gateway pods.", ge=1)] = 10
    target_cpu_utilization_percentage: Annotated[
        int, Field(description="Average CPU the HPA aims for.", ge=1, le=100)
    ] = 70
    scale_down_stabilization_seconds: Annotated[
        int,
        Field(
            description="The HPA scales in to the highest replica count it wanted over this window (Kubernetes' default: 300).",
            ge=0,
            le=3600,
        ),
    ] = 300


class Service(Values):
    type: Annotated[
        Literal["ClusterIP", "NodePort", "LoadBalancer"], Field(description="Service type of the gateway.")
    ] = "ClusterIP"
    port: Annotated[int, Field(description="Service port of the gateway's MCP endpoint.", ge=1, le=65535)] = (
        80
    )


class Delegate(Values):
    client_id: Annotated[
        str,
        Field(
            description="jwt, for an issuer that registers no clients: the gateway's own client there. Set: the gateway registers MCP clients itself, sends users to the issuer to sign in and issues its own tokens (docs/design/0020-oauth-interop.md)."
        ),
    ] = ""
    client_secret_name: Annotated[
        str,
        Field(
            description="Secret (in the release's namespace) holding that client's secret under the key clientSecret. Empty: a public client (PKCE alone)."
        ),
    ] = ""
    scopes: Annotated[
        list[str],
        Field(
            description="Scopes asked of the issuer at sign-in; its ID token's sub and groups name the caller."
        ),
    ] = Field(default_factory=lambda: ["openid"])
    signing_key_secret: Annotated[
        str,
        Field(
            description="Secret holding the PEM key that signs the gateway's tokens under the key key.pem (RSA 2048+ or EC P-256), shared by every replica. Required with clientId."
        ),
    ] = ""
    token_seconds: Annotated[
        int, Field(description="Lifetime of the tokens the gateway issues.", ge=60, le=86400)
    ] = 3600


class Auth(Values):
    mode: Annotated[
        Literal["jwt", "api-key", "none"],
        Field(
            description="How agents authenticate: jwt (OAuth 2.1 bearer tokens), api-key, or none (never in production)."
        ),
    ] = "jwt"
    issuer: Annotated[
        str,
        Field(
            description="jwt: the authorization server's issuer URL, as its metadata names it. Required with mode jwt; MCP clients find it in the gateway's protected resource metadata.",
            pattern=URL_OR_EMPTY,
        ),
    ] = ""
    audience: Annotated[
        str,
        Field(
            description="jwt: the aud claim tokens must carry. Empty: <publicUrl>/mcp, the resource MCP clients ask tokens for (RFC 8707); set it only for an issuer that cannot put that in aud."
        ),
    ] = ""
    jwks_url: Annotated[
        str,
        Field(
            description="jwt: the issuer's JWKS. Empty: the jwks_uri of the issuer's metadata (RFC 8414 or OpenID discovery).",
            pattern=URL_OR_EMPTY,
        ),
    ] = ""
    scopes: Annotated[
        list[str], Field(description="jwt: scopes advertised in the protected resource metadata.")
    ] = Field(default_factory=list)
    api_key_digests: Annotated[
        list[str], Field(description="api-key: SHA-256 hex digests of the accepted keys (never the keys).")
    ] = Field(default_factory=list)
    delegate: Annotated[
        Delegate, Field(description="jwt: delegated sign-in, for an issuer that registers no clients.")
    ] = Field(default_factory=Delegate)


class Limits(Values):
    caller_per_minute: Annotated[
        int,
        Field(
            description="Calls per minute one caller (token subject) may make, all tools together; the calls over it get an error with a retry-after. Counted in Redis (redis.url) across replicas. 0: no limit.",
            ge=0,
        ),
    ] = 0
    caller_tool_per_minute: Annotated[
        int, Field(description="Calls per minute one caller may make to any one tool. 0: no limit.", ge=0)
    ] = 0
    integration_per_minute: Annotated[
        int,
        Field(
            description="Calls per minute to one integration, all callers together, where its spec.limits.callsPerMinute is unset. 0: no limit.",
            ge=0,
        ),
    ] = 0
    integration_caller_per_minute: Annotated[
        int,
        Field(
            description="Calls per minute one caller may make to one integration, where its spec.limits.perUserCallsPerMinute is unset. 0: no limit.",
            ge=0,
        ),
    ] = 0


class Breaker(Values):
    failures: Annotated[
        int,
        Field(
            description="Consecutive outages (category server or upstream unreachable, timed out, HTTP 5xx) that open an integration's circuit: calls fail fast, searches mark its tools unavailable, its Available condition turns False. 0: no breaker.",
            ge=0,
        ),
    ] = 5
    cooldown_seconds: Annotated[
        float, Field(description="How long an open circuit waits before one trial call.", gt=0)
    ] = 30.0


class Gateway(Values):
    enabled: Annotated[bool, Field(description="Run the gateway.")] = True
    replicas: Annotated[int, Field(description="Gateway pods when autoscaling is off.", ge=0)] = 2
    catalog_namespace: Annotated[
        str,
        Field(
            description="Namespace of the MCPCategory/MCPIntegration objects it serves. Empty: the release's."
        ),
    ] = ""
    direct_tools_limit: Annotated[
        int, Field(description="Up to this many tools, tools/list shows them directly.", ge=0)
    ] = 32
    qdrant_url: Annotated[
        str, Field(description="Qdrant server for the tool vectors. Empty: in-process.")
    ] = ""
    learning: Annotated[
        Literal["off", "caller", "shared"],
        Field(
            description="Learn from which tool callers call after a search: caller (each caller's own), shared (everyone's), or off. Per replica, in memory."
        ),
    ] = "off"
    limits: Annotated[
        Limits, Field(description="Rate limits of forwarded calls (docs/operations/limits.md).")
    ] = Field(default_factory=Limits)
    breaker: Annotated[Breaker, Field(description="Circuit breakers, one per integration and replica.")] = (
        Field(default_factory=Breaker)
    )
    console: Annotated[
        bool,
        Field(
            description="Serve the read-only web console at /console (catalogue, search playground, categories, recent calls) behind the same authentication and tool access as /mcp."
        ),
    ] = True
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], Field(description="Log level.")] = (
        "INFO"
    )
    public_url: Annotated[
        str,
        Field(
            description="The gateway's external base URL, as MCP clients connect to it; <publicUrl>/mcp is the OAuth resource identifier. Required with auth.mode jwt.",
            pattern=URL_OR_EMPTY,
        ),
    ] = ""
    auth: Annotated[Auth, Field(description="Caller authentication.")] = Field(default_factory=Auth)
    service: Annotated[Service, Field(description="The gateway's Service.")] = Field(default_factory=Service)
    autoscaling: Annotated[Autoscaling, Field(description="HPA of the gateway.")] = Field(
        default_factory=Autoscaling
    )
    resources: Annotated[Resources, Field(description="Gateway container resources.")] = Field(
        default_factory=lambda: Resources(requests={"cpu": "250m", "memory": "1Gi"}, limits={"memory": "2Gi"})
    )


class Vault(Values):
    address: Annotated[
        str,
        Field(
            description="Vault (or OpenBao) address, e.g. https://vault.vault:8200. Empty: no Vault (vaultPath and perUser integrations report so)."
        ),
    ] = ""
    auth_mount: Annotated[str, Field(description="Mount path of Vault's kubernetes auth method.")] = (
        "kubernetes"
    )
    audience: Annotated[
        str, Field(description="Audience of the ServiceAccount tokens projected for the Vault login.")
    ] = "vault"
    kv_mount: Annotated[str, Field(description="Mount path of the KV version 2 engine.")] = "secret"
    gateway_role: Annotated[
        str,
        Field(
            description="Vault role of the gateway (each category server logs in as toolmesh-category-<name>)."
        ),
    ] = "toolmesh-gateway"
    user_prefix: Annotated[
        str, Field(description="KV path under which the gateway keeps each user's upstream credentials.")
    ] = "toolmesh/users"


class Tracing(Values):
    otlp_endpoint: Annotated[
        str,
        Field(
            description="OTLP/HTTP endpoint of an OpenTelemetry Collector, e.g. http://otel-collector.observability:4318: the gateway and every category server send their traces there (OTEL_EXPORTER_OTLP_ENDPOINT). Empty: no tracing."
        ),
    ] = ""
    record_query_text: Annotated[
        bool,
        Field(
            description="Record each search's query text on its span (TOOLMESH_TRACE_QUERY_TEXT). Off: spans carry results and scores, never what was asked."
        ),
    ] = False


class Redis(Values):
    url: Annotated[
        str,
        Field(
            description="Redis URL for state shared by gateway replicas: OAuth sign-ins in progress (needed for brokered OAuth with more than one replica) and rate-limit counts (without it, each replica counts alone). Empty: in process."
        ),
    ] = ""


class NetworkPolicy(Values):
    enabled: Annotated[
        bool, Field(description="Restrict the gateway's and operator's traffic with NetworkPolicies.")
    ] = False


class ServiceMonitor(Values):
    enabled: Annotated[
        bool,
        Field(
            description="Create Prometheus Operator monitors for /metrics: ServiceMonitors of the gateway and the operator, a PodMonitor of the category servers."
        ),
    ] = False
    interval: Annotated[str, Field(description="Scrape interval.", pattern=r"^[0-9]+(s|m)$")] = "30s"


class PrometheusRule(Values):
    enabled: Annotated[
        bool,
        Field(
            description="Create a Prometheus Operator PrometheusRule with toolmesh's alerts (docs/operations/monitoring.md)."
        ),
    ] = False
    labels: Annotated[
        dict[str, str],
        Field(
            description="Extra labels of the PrometheusRule, e.g. {release: kube-prometheus-stack} for a ruleSelector."
        ),
    ] = Field(default_factory=dict)
    error_ratio: Annotated[
        float,
        Field(
            description="ToolmeshIntegrationErrors fires above this share of an integration's calls failing.",
            gt=0,
            le=1,
        ),
    ] = 0.1
    slow_wake_seconds: Annotated[
        int,
        Field(
            description="ToolmeshSlowWakes fires when a category's 95th percentile wake takes longer.", ge=1
        ),
    ] = 30
    circuit_open_minutes: Annotated[
        int,
        Field(
            description="ToolmeshCircuitOpen fires when an integration's circuit breaker stays open this many minutes.",
            ge=1,
        ),
    ] = 10


class GrafanaDashboard(Values):
    enabled: Annotated[
        bool,
        Field(
            description='Create a ConfigMap holding toolmesh\'s Grafana dashboard, labelled grafana_dashboard: "1" for the Grafana sidecar.'
        ),
    ] = False
    namespace: Annotated[
        str,
        Field(
            description="Namespace of the dashboard's ConfigMap (the one the sidecar watches). Empty: the release's."
        ),
    ] = ""
    annotations: Annotated[
        dict[str, str], Field(description="Annotations of the ConfigMap, e.g. {grafana_folder: toolmesh}.")
    ] = Field(default_factory=dict)


class ChartValues(Values):
    """Values of the toolmesh chart."""

    image: Annotated[Image, Field(description="Where the images come from.")] = Field(default_factory=Image)
    image_pull_secrets: Annotated[
        list[dict[str, str]], Field(description="Pull secrets, e.g. [{name: regcred}].")
    ] = Field(default_factory=list)
    crds: Annotated[Crds, Field(description="The CustomResourceDefinitions.")] = Field(default_factory=Crds)
    operator: Annotated[Operator, Field(description="The operator.")] = Field(default_factory=Operator)
    gateway: Annotated[Gateway, Field(description="The gateway.")] = Field(default_factory=Gateway)
    vault: Annotated[Vault, Field(description="Upstream credentials in Vault (kubernetes auth).")] = Field(
        default_factory=Vault
    )
    tracing: Annotated[
        Tracing, Field(description="OpenTelemetry traces (docs/operations/monitoring.md).")
    ] = Field(default_factory=Tracing)
    redis: Annotated[Redis, Field(description="Shared state of the gateway replicas.")] = Field(
        default_factory=Redis
    )
    network_policy: Annotated[NetworkPolicy, Field(description="NetworkPolicies.")] = Field(
        default_factory=NetworkPolicy
    )
    service_monitor: Annotated[ServiceMonitor, Field(description="Prometheus scraping.")] = Field(
        default_factory=ServiceMonitor
    )
    prometheus_rule: Annotated[PrometheusRule, Field(description="Prometheus alerts.")] = Field(
        default_factory=PrometheusRule
    )
    grafana_dashboard: Annotated[GrafanaDashboard, Field(description="Grafana dashboard.")] = Field(
        default_factory=GrafanaDashboard
    )
    node_selector: Annotated[dict[str, str], Field(description="Node selector of every pod.")] = Field(
        default_factory=dict
    )
    tolerations: Annotated[list[dict[str, Any]], Field(description="Tolerations of every pod.")] = Field(
        default_factory=list
    )


def schema() -> dict[str, Any]:
    """JSON Schema (draft 7, as Helm reads it) with ``additionalProperties: false`` everywhere."""
    raw = ChartValues.model_json_schema(by_alias=True)
    defs = raw.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = inline(defs[node["$ref"].rsplit("/", 1)[-1]])
                return {**target, **{k: v for k, v in node.items() if k == "description"}}
            out = {k: inline(v) for k, v in node.items() if k not in ("title", "default")}
            if out.get("type") == "object" and "properties" in out:
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    result: dict[str, Any] = {"$schema": "http://json-schema.org/draft-07/schema#", **inline(raw)}
    return result


def defaults() -> dict[str, Any]:
    return ChartValues().model_dump(by_alias=True)
