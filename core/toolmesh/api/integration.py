"""``MCPIntegration``: one upstream API (from its OpenAPI spec) or MCP server, in a category."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from toolmesh.api.auth import Auth
from toolmesh.api.base import (
    DNS_LABEL,
    URL_PATTERN,
    ApiModel,
    Condition,
    CrdInfo,
    KeyReference,
    Rule,
    TypedObject,
    age_column,
    exactly_one,
    ready_column,
    reason_column,
)

HttpMethod = Literal["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"]


class SpecSource(ApiModel):
    """Where the OpenAPI document comes from: exactly one of configMapKeyRef, inline or url."""

    rules = (
        Rule(
            cel="[has(self.configMapKeyRef), has(self.inline), has(self.url)].filter(x, x).size() == 1",
            message="exactly one of spec.openapi.spec.configMapKeyRef, spec.openapi.spec.inline or spec.openapi.spec.url must be set",
            check=lambda s: exactly_one(
                s.config_map_key_ref is not None, s.inline is not None, s.url is not None
            ),
        ),
    )

    config_map_key_ref: Annotated[
        KeyReference | None,
        Field(
            description="A key of a ConfigMap holding the document as JSON or YAML, optionally gzip-compressed (binaryData)."
        ),
    ] = None
    inline: Annotated[
        str | None,
        Field(
            description="The document itself, as JSON or YAML text. Keep it small: the whole object must fit in etcd.",
            max_length=1048576,
        ),
    ] = None
    url: Annotated[
        str | None,
        Field(
            description="An http(s) URL the document is fetched from when the integration is validated and served.",
            pattern=URL_PATTERN,
            max_length=2048,
        ),
    ] = None


class OperationSelector(ApiModel):
    """Selects operations of a spec. Criteria that are set must all match; a list matches if any entry does."""

    rules = (
        Rule(
            cel=" || ".join(
                f"(has(self.{f}) && size(self.{f}) > 0)" for f in ("operations", "tags", "methods", "paths")
            ),
            message="an operation selector (spec.openapi.include or spec.openapi.exclude) must set at least one of operations, tags, methods or paths",
            check=lambda s: bool(s.operations or s.tags or s.methods or s.paths),
        ),
    )

    operations: Annotated[
        list[Annotated[str, Field(max_length=256)]],
        Field(
            description="Shell-style globs matched against operationIds, e.g. 'issues/*' or 'list*'.",
            max_length=256,
        ),
    ] = Field(default_factory=list)
    tags: Annotated[
        list[Annotated[str, Field(max_length=256)]],
        Field(description="OpenAPI tags; an operation matches if it has any of them.", max_length=256),
    ] = Field(default_factory=list)
    methods: Annotated[list[HttpMethod], Field(description="HTTP methods, upper case.", max_length=8)] = (
        Field(default_factory=list)
    )
    paths: Annotated[
        list[Annotated[str, Field(max_length=1024)]],
        Field(
            description="Shell-style globs matched against path templates, e.g. '/repos/*'.", max_length=256
        ),
    ] = Field(default_factory=list)


class OpenAPISource(ApiModel):
    """Tools generated from an OpenAPI 3.x or Swagger 2.0 document."""

    spec: Annotated[SpecSource, Field(description="Where the OpenAPI document comes from.")]
    base_url: Annotated[
        str | None,
        Field(
            description="Base URL of the upstream API; overrides the document's servers (or host and basePath).",
            pattern=URL_PATTERN,
            max_length=2048,
        ),
    ] = None
    server_variables: Annotated[
        dict[str, str],
        Field(description="Values of the server URL's variables, overriding their defaults."),
    ] = Field(default_factory=dict)
    include: Annotated[
        OperationSelector | None,
        Field(description="Only operations matching this selector become tools. Unset: all operations."),
    ] = None
    exclude: Annotated[
        OperationSelector | None,
        Field(description="Operations matching this selector are left out, after include."),
    ] = None
    read_only: Annotated[
        bool,
        Field(description="Only safe methods (GET, HEAD, OPTIONS) become tools."),
    ] = False


class RemoteMCPSource(ApiModel):
    """A remote MCP server, reached over Streamable HTTP, whose tools are federated."""

    url: Annotated[
        str, Field(description="URL of the server's MCP endpoint.", pattern=URL_PATTERN, max_length=2048)
    ]
    headers: Annotated[
        dict[str, str],
        Field(
            description="Extra non-secret HTTP headers sent with each request; put credentials in spec.auth."
        ),
    ] = Field(default_factory=dict)


class EnvVar(ApiModel):
    """An environment variable of a stdio server: a literal value or a Secret key."""

    rules = (
        Rule(
            cel="has(self.value) != has(self.secretKeyRef)",
            message="exactly one of value or secretKeyRef must be set in each entry of spec.stdio.env",
            check=lambda e: (e.value is None) != (e.secret_key_ref is None),
        ),
    )

    name: Annotated[
        str, Field(description="Name of the variable.", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=256)
    ]
    value: Annotated[str | None, Field(description="Literal value.", max_length=32768)] = None
    secret_key_ref: Annotated[
        KeyReference | None, Field(description="A key of a Secret whose value is used.")
    ] = None


class StdioSource(ApiModel):
    """A packaged MCP server run as a child process of the category server, speaking MCP over stdio."""

    command: Annotated[
        str,
        Field(
            description="Executable, installed in the category image (e.g. 'postgres-mcp').",
            min_length=1,
            max_length=1024,
        ),
    ]
    args: Annotated[
        list[Annotated[str, Field(max_length=4096)]], Field(description="Arguments.", max_length=128)
    ] = Field(default_factory=list)
    env: Annotated[list[EnvVar], Field(description="Environment variables.", max_length=128)] = Field(
        default_factory=list
    )


class RateLimit(ApiModel):
    """Client-side rate limit towards the upstream, per category server pod."""

    requests_per_second: Annotated[
        float, Field(description="Sustained requests per second.", gt=0, le=100000)
    ]
    burst: Annotated[
        int, Field(description="Requests allowed at once above the sustained rate.", ge=1, le=100000)
    ] = 1


class Limits(ApiModel):
    """How many calls the gateway forwards to the integration's tools (every replica together).

    Unset fields take the gateway's defaults (TOOLMESH_LIMITS_*). A call over a limit is answered
    with an error saying which limit and when to retry, and is not forwarded.
    """

    rules = (
        Rule(
            cel="!has(self.callsPerMinute) || self.callsPerMinute == 0 || !has(self.perUserCallsPerMinute) || self.perUserCallsPerMinute <= self.callsPerMinute",
            message="spec.limits.perUserCallsPerMinute cannot exceed spec.limits.callsPerMinute (one caller would never reach it): lower it, or raise callsPerMinute",
            check=lambda s: (
                not s.calls_per_minute
                or s.per_user_calls_per_minute is None
                or s.per_user_calls_per_minute <= s.calls_per_minute
            ),
        ),
    )

    calls_per_minute: Annotated[
        int | None,
        Field(
            description="Calls per minute to the integration's tools, all callers together. 0: no limit. Unset: TOOLMESH_LIMITS_INTEGRATION_PER_MINUTE.",
            ge=0,
            le=10_000_000,
        ),
    ] = None
    per_user_calls_per_minute: Annotated[
        int | None,
        Field(
            description="Calls per minute one caller (token subject) may make to the integration's tools. 0: no limit. Unset: TOOLMESH_LIMITS_INTEGRATION_CALLER_PER_MINUTE.",
            ge=0,
            le=10_000_000,
        ),
    ] = None


class Access(ApiModel):
    """Who may see and call the integration's tools through the gateway. Unset: every authenticated caller."""

    groups: Annotated[
        list[Annotated[str, Field(max_length=256)]],
        Field(
            description="Callers in at least one of these groups (the token's groups claim) may use it.",
            max_length=64,
        ),
    ] = Field(default_factory=list)
    scopes: Annotated[
        list[Annotated[str, Field(max_length=256)]],
        Field(
            description="Callers must hold every one of these scopes (the token's scope claim).",
            max_length=64,
        ),
    ] = Field(default_factory=list)

    def allows(self, groups: frozenset[str], scopes: frozenset[str]) -> bool:
        return (not self.groups or bool(groups & set(self.groups))) and set(self.scopes) <= scopes


class MCPIntegrationSpec(ApiModel):
    """Desired state of an integration: its category, exactly one source of tools, and its auth."""

    rules = (
        Rule(
            cel="[has(self.openapi), has(self.mcp), has(self.stdio)].filter(x, x).size() == 1",
            message="exactly one of spec.openapi, spec.mcp or spec.stdio must be set",
            check=lambda s: exactly_one(s.openapi is not None, s.mcp is not None, s.stdio is not None),
        ),
    )

    category: Annotated[
        str,
        Field(
            description="Name of the MCPCategory (same namespace) whose server runs this integration.",
            pattern=DNS_LABEL,
            max_length=63,
        ),
    ]
    description: Annotated[
        str,
        Field(
            description="What the upstream is for; the gateway adds it to every tool's routing text.",
            max_length=2048,
        ),
    ] = ""
    tool_prefix: Annotated[
        str | None,
        Field(
            description="Prefix of tool names (<prefix>__<operation>). Unset: the object's name.",
            pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$",
            max_length=32,
        ),
    ] = None
    openapi: Annotated[
        OpenAPISource | None, Field(description="Generate tools from an OpenAPI document.")
    ] = None
    mcp: Annotated[
        RemoteMCPSource | None, Field(description="Federate a remote Streamable HTTP MCP server.")
    ] = None
    stdio: Annotated[
        StdioSource | None, Field(description="Run a packaged stdio MCP server inside the category server.")
    ] = None
    auth: Annotated[
        Auth | None, Field(description="Credentials for the upstream. Unset: no authentication.")
    ] = None
    timeout_seconds: Annotated[
        int, Field(description="Timeout of one upstream call, in seconds.", ge=1, le=600)
    ] = 30
    rate_limit: Annotated[
        RateLimit | None, Field(description="Client-side rate limit towards the upstream.")
    ] = None
    limits: Annotated[
        Limits | None,
        Field(
            description="Rate limits the gateway applies to calls of the integration's tools, shared by its replicas. Unset: the gateway's defaults."
        ),
    ] = None
    access: Annotated[
        Access | None,
        Field(
            description="Who may see and call its tools; search never shows a tool the caller cannot call."
        ),
    ] = None


class ToolSummary(ApiModel):
    """A tool discovered from an MCP or stdio source, recorded so the gateway can index it at zero replicas."""

    name: Annotated[str, Field(description="Tool name as the gateway exposes it.", max_length=64)]
    description: Annotated[str, Field(description="Tool description (truncated).", max_length=1024)] = ""


class PromptArgumentSummary(ApiModel):
    """One argument of a discovered prompt."""

    name: Annotated[str, Field(description="Argument name.", max_length=128)]
    description: Annotated[str, Field(description="Argument description (truncated).", max_length=1024)] = ""
    required: Annotated[bool, Field(description="Whether the prompt needs it.")] = False


class PromptSummary(ApiModel):
    """A prompt discovered on an MCP or stdio source, recorded so the gateway can list it at zero replicas."""

    name: Annotated[str, Field(description="Prompt name as the gateway exposes it.", max_length=64)]
    description: Annotated[str, Field(description="Prompt description (truncated).", max_length=1024)] = ""
    arguments: Annotated[
        list[PromptArgumentSummary], Field(description="The prompt's arguments.", max_length=32)
    ] = Field(default_factory=list)


class ResourceSummary(ApiModel):
    """A resource discovered on an MCP or stdio source, under the URI the gateway serves it by."""

    uri: Annotated[
        str,
        Field(
            description="URI as the gateway serves it: toolmesh://<integration>/<the server's URI>.",
            max_length=2048,
        ),
    ]
    name: Annotated[str, Field(description="The resource's name.", max_length=256)]
    description: Annotated[str, Field(description="Resource description (truncated).", max_length=1024)] = ""
    mime_type: Annotated[
        str | None, Field(description="MIME type, when the server says.", max_length=128)
    ] = None


class ResourceTemplateSummary(ApiModel):
    """A resource template discovered on an MCP or stdio source, under the template the gateway serves."""

    uri_template: Annotated[
        str,
        Field(
            description="URI template as the gateway serves it: toolmesh://<integration>/<the server's template>.",
            max_length=2048,
        ),
    ]
    name: Annotated[str, Field(description="The template's name.", max_length=256)]
    description: Annotated[str, Field(description="Template description (truncated).", max_length=1024)] = ""
    mime_type: Annotated[
        str | None, Field(description="MIME type, when the server says.", max_length=128)
    ] = None


class MCPIntegrationStatus(ApiModel):
    """Observed state of an integration, written by the operator only."""

    observed_generation: Annotated[
        int | None, Field(description="The .metadata.generation this status describes.", ge=0)
    ] = None
    conditions: Annotated[
        list[Condition],
        Field(
            description="Current observations: Ready (summary), SpecValid, Resolved (the operator's); Indexed and Available (the gateway's: its search index, and its circuit breaker).",
            max_length=16,
        ),
    ] = Field(default_factory=list)
    tools: Annotated[int | None, Field(description="Number of tools the integration provides.", ge=0)] = None
    spec_digest: Annotated[
        str | None,
        Field(
            description="Digest of the compiled tools (sha256); changes only when the tools change.",
            max_length=80,
        ),
    ] = None
    source: Annotated[
        str | None,
        Field(
            description="How the spec reaches the category server, e.g. 'ConfigMap (gzip, 412 KiB)'.",
            max_length=256,
        ),
    ] = None
    warnings: Annotated[
        list[Annotated[str, Field(max_length=1024)]],
        Field(
            description="Operations skipped or simplified, e.g. '3 operations skipped: multipart bodies'.",
            max_length=32,
        ),
    ] = Field(default_factory=list)
    discovered_tools: Annotated[
        list[ToolSummary],
        Field(description="Tools of an mcp or stdio source, as last discovered.", max_length=2048),
    ] = Field(default_factory=list)
    discovered_prompts: Annotated[
        list[PromptSummary],
        Field(description="Prompts of an mcp or stdio source, as last discovered.", max_length=256),
    ] = Field(default_factory=list)
    discovered_resources: Annotated[
        list[ResourceSummary],
        Field(description="Resources of an mcp or stdio source, as last discovered.", max_length=512),
    ] = Field(default_factory=list)
    discovered_resource_templates: Annotated[
        list[ResourceTemplateSummary],
        Field(
            description="Resource templates of an mcp or stdio source, as last discovered.", max_length=256
        ),
    ] = Field(default_factory=list)


class MCPIntegration(TypedObject):
    """One upstream API or MCP server whose tools a category server provides."""

    crd = CrdInfo(
        kind="MCPIntegration",
        plural="mcpintegrations",
        singular="mcpintegration",
        short_names=("mcpi",),
        printer_columns=(
            {"name": "Category", "type": "string", "jsonPath": ".spec.category"},
            ready_column(),
            {"name": "Tools", "type": "integer", "jsonPath": ".status.tools"},
            reason_column(),
            {"name": "Digest", "type": "string", "jsonPath": ".status.specDigest", "priority": 1},
            age_column(),
        ),
    )

    spec: Annotated[MCPIntegrationSpec, Field(description="Desired state of the integration.")]
    status: Annotated[
        MCPIntegrationStatus | None, Field(description="Observed state, written by the operator.")
    ] = None
