"""What the integration reconcile finds out about a valid MCPIntegration: reads, no writes.

Its tools (the OpenAPI document compiled, or a federated server's tools listed), whether it fits
in its category's catalog, and whether what it references exists: its category and its Secrets.
Each problem is (condition type, reason, message), the message naming the field and the fix.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import aiohttp
import structlog

from toolmesh.api import MCPCategory, MCPIntegration, conditions
from toolmesh.catalog import cluster as cluster_catalog
from toolmesh.kube import KubeClient
from toolmesh.operator import bundle, discovery, specs
from toolmesh.operator.settings import OperatorSettings
from toolmesh.operator.status import IntegrationFindings

log = structlog.get_logger("toolmesh.operator")
Problem = tuple[str, str, str]  # (condition type, reason, message)


@dataclass(frozen=True)
class Checks:
    client: KubeClient
    http: aiohttp.ClientSession
    settings: OperatorSettings
    compiler: specs.Compiler

    async def integration(self, obj: MCPIntegration, generation: int) -> IntegrationFindings:
        if obj.spec.openapi is not None:
            found = await self.openapi(obj, generation)
        else:
            found = await self.federated(obj, generation)
        return dataclasses.replace(found, problems=[*found.problems, *await self.dependencies(obj)])

    async def openapi(self, obj: MCPIntegration, generation: int) -> IntegrationFindings:
        """The document read and compiled, and whether the object fits in the category's catalog."""
        spec, namespace = obj.spec, obj.metadata.namespace
        assert spec.openapi is not None
        problems: list[Problem] = []
        wire = spec.model_dump(by_alias=True, mode="json", exclude_none=True)
        placed = bundle.placement(
            obj.metadata.name,
            namespace,
            wire,
            bundle.inline_document(spec),
            self.settings.max_configmap_bytes,
        )
        document = await cluster_catalog.read(
            self.client, self.http, obj, namespace,
            timeout=self.settings.spec_fetch_timeout_seconds, max_bytes=self.settings.spec_max_bytes,
        )  # fmt: skip
        source = document.source
        if placed.too_large is not None:
            problems.append((conditions.SPEC_VALID, conditions.SPEC_TOO_LARGE, placed.too_large))
        elif placed.packed is not None:
            source = f"{source}; gzip-compressed into the category's catalog ConfigMap"
        found = IntegrationFindings(
            generation, source=source, discovered=list(obj.status.discovered_tools) if obj.status else []
        )
        if document.problem is not None:
            reason, message = document.problem
            mounted = reason == conditions.SPEC_UNAVAILABLE and spec.openapi.spec.config_map_key_ref
            problems.append((conditions.RESOLVED if mounted else conditions.SPEC_VALID, reason, message))
        elif document.data is not None:
            compiled = await self.compiler.compile(obj, document.data)
            if compiled.problem is not None:
                problems.append((conditions.SPEC_VALID, *compiled.problem))
            found = dataclasses.replace(
                found, tools=compiled.tools, digest=compiled.digest or None, warnings=compiled.warnings
            )
        return dataclasses.replace(found, problems=problems)

    async def federated(self, obj: MCPIntegration, generation: int) -> IntegrationFindings:
        """An mcp or stdio source: what was last discovered (tools, prompts, resources), listed
        again when the spec changed."""
        status = obj.status
        found = discovery.Discovered(
            list(status.discovered_tools) if status else [],
            list(status.discovered_prompts) if status else [],
            list(status.discovered_resources) if status else [],
            list(status.discovered_resource_templates) if status else [],
        )
        current = status is not None and status.observed_generation == generation
        if obj.spec.mcp is not None and not (found.tools and current):
            try:
                found = await discovery.discover(
                    obj, self.client, obj.metadata.namespace, self.settings.spec_fetch_timeout_seconds
                )
            except discovery.Undiscoverable as exc:
                log.info(
                    "integration_discovery_pending",
                    namespace=obj.metadata.namespace,
                    name=obj.metadata.name,
                    reason=str(exc),
                )
        return IntegrationFindings(
            generation,
            tools=len(found.tools) or None,
            discovery_pending=not found.tools,
            discovered=found.tools,
            prompts=found.prompts,
            resources=found.resources,
            templates=found.templates,
        )

    async def dependencies(self, obj: MCPIntegration) -> list[Problem]:
        """The category and every referenced Secret exist."""
        spec, namespace = obj.spec, obj.metadata.namespace
        problems: list[Problem] = []
        if not await self.client.exists(MCPCategory, namespace, spec.category):
            problems.append((
                conditions.RESOLVED, conditions.CATEGORY_NOT_FOUND,
                f"spec.category: MCPCategory {spec.category!r} was not found in namespace {namespace!r}; create it or fix spec.category",
            ))  # fmt: skip
        for secret in sorted(bundle.referenced_secrets(spec)):
            if not await self.client.exists("Secret", namespace, secret):
                shared = spec.auth and spec.auth.secret_ref and spec.auth.secret_ref.name == secret
                where = "spec.auth.secretRef" if shared else "spec.stdio.env[].secretKeyRef"
                problems.append((
                    conditions.RESOLVED, conditions.SECRET_NOT_FOUND,
                    f"{where}: Secret {secret!r} was not found in namespace {namespace!r}; create it or fix the reference",
                ))  # fmt: skip
        return problems
