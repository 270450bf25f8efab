"""The category server's behaviour: load the catalog, list the tools, call them (and the federated
servers' prompts and resources: got and read through the server that offers them).

Transport-free: ``server.py`` puts it behind MCP, ``app.py`` behind aiohttp. Every failure of one
call (bad arguments, missing credentials, upstream down or slow or failing) becomes an ``isError``
result for that call only, with a message that says what to fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from mcp import types
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from toolmesh.api import MCPIntegration
from toolmesh.catalog.folder import Catalog, Entry
from toolmesh.category import results
from toolmesh.category.auth import AuthUnavailable, TokenCache, authorize, lookup
from toolmesh.category.egress import EgressPolicy
from toolmesh.category.federation import (
    CredentialsMissing,
    Remote,
    RemoteUnavailable,
    caller_clients,
    connector,
)
from toolmesh.category.metrics import Metrics
from toolmesh.category.mid_call import MidCallRelay
from toolmesh.category.ratelimit import RateLimited, TokenBucket
from toolmesh.category.registry import Registry
from toolmesh.category.settings import CategorySettings
from toolmesh.category.spec_sources import SpecSources
from toolmesh.category.specs import SpecCache
from toolmesh.category.upstream import UpstreamDown, UpstreamError, UpstreamPool
from toolmesh.common import resource_uri, tracing
from toolmesh.common.call_meta import OUTAGE_META
from toolmesh.common.mcp_client import OwnedClient, Resumption, ToolAnswer
from toolmesh.common.mcp_results import text_result
from toolmesh.common.mcp_sse import Progress
from toolmesh.common.secrets import CallScrubber, SecretStore
from toolmesh.openapi import ArgumentError, budgets
from toolmesh.openapi.request import build_request
from toolmesh.vault import CachedReader, Vault

log = structlog.get_logger("toolmesh.category")


class _NoLimit:
    async def acquire(self, max_wait: float) -> None:
        return None


_NO_LIMIT = _NoLimit()

EV_LOADED = "catalog.loaded"
EV_INTEGRATION_FAILED = "integration.failed"
EV_DIGEST_MISMATCH = "integration.digest_mismatch"
EV_CALL = "tool.called"
#: A document at spec.openapi.spec.url: the limit of every process that fetches one (catalog.fetch;
#: its time limit: specs.TIMEOUT_SECONDS).
SPEC_MAX_BYTES = budgets.MAX_DOCUMENT_BYTES


@dataclass
class CategoryService:
    settings: CategorySettings
    pool: UpstreamPool
    store: SecretStore
    metrics: Metrics = field(default_factory=Metrics)
    registry: Registry = field(default_factory=Registry)
    tokens: TokenCache = field(default_factory=TokenCache)
    loaded: bool = False
    remotes: list[Remote] = field(default_factory=list)
    limiters: dict[str, TokenBucket] = field(default_factory=dict)
    #: Shared credentials at spec.auth.vaultPath, read through this server's own Vault login.
    vault: CachedReader | None = None
    spec_pool: UpstreamPool = field(
        default_factory=lambda: UpstreamPool(
            max_response_bytes=SPEC_MAX_BYTES, connect_timeout=10, per_host=4, max_redirects=5
        )
    )

    #: Documents at spec.openapi.spec.url, and their refresh schedule (started by load).
    specs: SpecSources = field(init=False)
    _refreshing: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.specs = SpecSources(SpecCache(self.spec_pool), self.registry, self.metrics)

    @classmethod
    def create(cls, settings: CategorySettings, catalog: Catalog) -> CategoryService:
        egress = EgressPolicy.from_settings(settings.egress, settings.egress_allow)
        pool = UpstreamPool(
            max_response_bytes=settings.max_response_bytes,
            connect_timeout=settings.connect_timeout_seconds,
            per_host=settings.max_connections_per_host,
            max_redirects=settings.max_redirects,
            egress=egress,
        )
        vault = (
            CachedReader(Vault(settings.vault), settings.vault.cache_seconds)
            if settings.vault.enabled
            else None
        )
        spec_pool = UpstreamPool(
            max_response_bytes=SPEC_MAX_BYTES, connect_timeout=10, per_host=4, max_redirects=5, egress=egress
        )
        store = SecretStore(settings.credentials_dir, catalog.secrets)
        return cls(settings, pool, store, vault=vault, spec_pool=spec_pool)

    async def load(self, catalog: Catalog) -> None:
        """Compile every integration of the catalog; failures are recorded, never raised."""
        for entry in catalog.entries:
            if entry.error is not None or entry.obj is None:
                self.registry.fail(entry, entry.error or "invalid object")
            elif entry.obj.spec.openapi is not None:
                if entry.spec is not None:
                    self.registry.add_openapi(entry, entry.spec)
                elif entry.spec_url is not None:  # its tools are reported: nobody else knows them
                    await self.specs.load(entry)
                else:
                    self.registry.fail(entry, "spec.openapi.spec: no document")
            else:
                await self._federate(entry, entry.obj)
        self._publish()
        self.loaded = True
        every = self.settings.spec_refresh_seconds
        if every > 0 and self.specs.entries:
            self._refreshing = asyncio.create_task(self.specs.run(every), name="spec-refresh")
        status = self.registry.status()
        log.info(
            EV_LOADED, integrations=len(self.registry.states), failed=status["failed"], tools=status["tools"]
        )

    def _publish(self) -> None:
        """Each integration's state as metrics, and a warning for each one not served as recorded."""
        for state in self.registry.states.values():
            self.metrics.integration_ready.labels(state.name).set(1 if state.ready else 0)
            self.metrics.integration_tools.labels(state.name).set(state.tools)
            self.metrics.spec_digest_mismatch.labels(state.name).set(1 if state.digest_mismatch else 0)
            if not state.ready:
                log.warning(EV_INTEGRATION_FAILED, integration=state.name, reason=state.message)
            elif state.digest_mismatch:
                log.warning(
                    EV_DIGEST_MISMATCH,
                    integration=state.name,
                    compiled=state.digest,
                    expected=state.expected_digest,
                    reason=state.problem,
                )

    async def _federate(self, entry: Entry, obj: MCPIntegration) -> None:
        kind = "spec.mcp" if obj.spec.mcp else "spec.stdio"
        try:
            get = None
            auth = obj.spec.auth
            if obj.spec.mcp is not None and auth is not None and auth.vault_path and not auth.per_caller:
                try:
                    get = await lookup(auth, self.store, self.vault, None)  # read once per connection
                except AuthUnavailable as exc:
                    raise RemoteUnavailable(f"spec.auth: {exc}") from None
            relay = MidCallRelay()
            client = OwnedClient(
                entry.name,
                connector(obj, self.store, obj.spec.timeout_seconds, relay, get),
                obj.spec.timeout_seconds,
                idle_after=self.settings.stdio_idle_seconds if obj.spec.stdio is not None else None,
            )
            callers = caller_clients(
                obj,
                self.settings.remote_clients_per_integration,
                self.settings.remote_client_idle_seconds,
                relay,
            )
            remote = Remote(entry.name, obj, client, callers=callers, relay=relay)
            await remote.start()
        except RemoteUnavailable as exc:
            self.registry.fail(entry, f"{kind}: {exc}" if not str(exc).startswith("spec.") else str(exc))
            return
        self.remotes.append(remote)
        self.registry.add_remote(entry, remote)

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing
        await asyncio.gather(*(r.stop() for r in self.remotes), return_exceptions=True)
        await self.pool.close()
        await self.spec_pool.close()
        if self.vault is not None:
            await self.vault.vault.close()

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        user: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        resume: Resumption | None = None,
    ) -> ToolAnswer:
        """Call a tool; ``user``: the caller's own credentials, sent by the gateway with this call
        only; ``progress``: told each step a federated server reports (an OpenAPI call has none);
        ``resume``: the agent's answers to a federated server's ``input_required`` (2026-07-28)."""
        binding = self.registry.bindings.get(name)
        if binding is None:
            self.metrics.calls.labels("", "", "unknown_tool").inc()
            return text_result(
                f"unknown tool {name!r}: list the tools to see what this server offers", error=True
            )
        if isinstance(binding, Remote):
            return await self._forward(binding, name, arguments, progress, resume, user)
        integration = binding.integration
        openapi = integration.spec.openapi
        assert openapi is not None
        started = time.perf_counter()
        outcome = "ok"
        scrub = self._scrubber(user)
        try:
            request = build_request(
                binding.tool, arguments, base_url=openapi.base_url, server_variables=openapi.server_variables
            )
            await self._limiter(integration).acquire(integration.spec.timeout_seconds)
            request = await authorize(
                request, integration.spec.auth, store=self.store, tokens=self.tokens, pool=self.pool,
                timeout=integration.spec.timeout_seconds, vault=self.vault, user=user, reveal=scrub.reveal,
            )  # fmt: skip
            response = await self.pool.send(
                request, timeout=integration.spec.timeout_seconds, template=binding.tool.route.path
            )
            result = results.render(response, cap=self.settings.max_response_bytes, scrub=scrub)
            if result.is_error:
                outcome = "upstream_error"
                if response.status >= 500:
                    result.meta = {OUTAGE_META: f"HTTP {response.status}"}
        except ArgumentError as exc:
            outcome, result = "invalid_arguments", text_result(str(exc), error=True)
        except (AuthUnavailable, UpstreamError, RateLimited) as exc:
            outcome = "unavailable"
            result = text_result(scrub(f"{binding.name}: {exc}"), error=True)
            if isinstance(exc, UpstreamDown):
                result.meta = {OUTAGE_META: type(exc).__name__}
        except aiohttp.InvalidURL as exc:
            outcome, result = (
                "unavailable",
                text_result(f"{binding.name}: invalid upstream URL {exc}", error=True),
            )
        self._observe(binding.name, name, outcome, started)
        return result

    def _scrubber(self, user: Mapping[str, str] | None) -> CallScrubber:
        """Scrubs every credential handed out, and this call's own user credentials."""
        return CallScrubber(self.store, set(user.values()) if user else set())

    def _limiter(self, integration: MCPIntegration) -> _NoLimit | TokenBucket:
        limit = integration.spec.rate_limit
        if limit is None:
            return _NO_LIMIT
        name = integration.metadata.name
        if name not in self.limiters:
            self.limiters[name] = TokenBucket(limit.requests_per_second, limit.burst)
        return self.limiters[name]

    async def _forward(
        self,
        remote: Remote,
        name: str,
        arguments: dict[str, Any] | None,
        progress: Progress | None,
        resume: Resumption | None,
        user: Mapping[str, str] | None,
    ) -> ToolAnswer:
        started = time.perf_counter()
        result: ToolAnswer
        try:
            result = await remote.call(name, arguments, progress, resume, user)
            if isinstance(result, types.InputRequiredResult):
                outcome = "input_required"
            else:
                if user:  # the caller's own credential, should the remote echo it
                    result = results.scrubbed(result, self._scrubber(user))
                outcome = "upstream_error" if result.is_error else "ok"
        except RemoteUnavailable as exc:
            outcome, result = "unavailable", text_result(self._scrubber(user)(str(exc)), error=True)
            if not isinstance(exc, CredentialsMissing):  # the caller's own doing is not an outage
                result.meta = {OUTAGE_META: "unreachable"}
        self._observe(remote.name, name, outcome, started)
        return result

    async def get_prompt(self, name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        """A federated server's prompt; MCPError (naming the integration) when it cannot be had."""
        remote = self.registry.prompts.get(name)
        if remote is None:
            raise MCPError(
                INVALID_PARAMS, f"unknown prompt {name!r}: list the prompts to see what this server offers"
            )
        return await remote.get_prompt(name, arguments)

    async def read_resource(self, uri: str) -> types.ReadResourceResult:
        """A federated server's resource, by the URI it is served under (toolmesh.common.resource_uri)."""
        try:
            integration, original = resource_uri.unwrap(uri)
        except resource_uri.BadResourceUri as exc:
            raise MCPError(INVALID_PARAMS, f"unknown resource {uri[:200]!r}: {exc}") from None
        remote = self.registry.readable.get(integration)
        if remote is None:
            raise MCPError(
                INVALID_PARAMS,
                f"unknown resource {uri[:200]!r}: no integration {integration!r} serves resources here",
            )
        return await remote.read_resource(original)

    def _observe(self, integration: str, tool: str, outcome: str, started: float) -> None:
        tracing.outcome(outcome, {"toolmesh.integration": integration})  # on the SDK's tools/call span
        elapsed = time.perf_counter() - started
        self.metrics.calls.labels(integration, tool, outcome).inc()
        self.metrics.latency.labels(integration, tool).observe(elapsed)
        log.info(EV_CALL, integration=integration, tool=tool, outcome=outcome, ms=round(elapsed * 1000, 2))
