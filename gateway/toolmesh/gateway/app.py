"""The gateway process: MCP at ``/mcp``, ``/healthz``, catalog state at ``/readyz``, ``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import socket
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from toolmesh.catalog import folder
from toolmesh.common.mcp_aiohttp import McpEndpoint, OriginPolicy, host_guard
from toolmesh.common.secrets import SecretStore
from toolmesh.gateway import auth
from toolmesh.gateway import catalog as catalog_mod
from toolmesh.gateway import server as server_mod
from toolmesh.gateway.cluster import ClusterCategories, ClusterSource
from toolmesh.gateway.identity import routes as identity_routes
from toolmesh.gateway.identity.credentials import UpstreamIdentity, client_credentials_from
from toolmesh.gateway.identity.oauth import DISCONNECT_PATH, OAuthBroker
from toolmesh.gateway.identity.states import MemoryStates, RedisStates, StateStore
from toolmesh.gateway.index.hybrid import QueryEmbedder
from toolmesh.gateway.index.outcomes import LearningSettings, Outcomes
from toolmesh.gateway.index.vectors import NumpyVectors, QdrantVectors, Vectors, VectorStore
from toolmesh.gateway.router import Router
from toolmesh.gateway.service import GatewayService
from toolmesh.gateway.settings import GatewaySettings, SettingsError
from toolmesh.gateway.supervisor import Categories, LocalCategories
from toolmesh.kube import KubeClient, load_connection
from toolmesh.vault import Vault, VaultSettings

SERVICE = web.AppKey("service", GatewayService)
REAP_EVERY = 5.0
QDRANT_COLLECTION = "toolmesh-tools"
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def make_embedder(
    settings: GatewaySettings, progress: Callable[[int, int], None] | None = None
) -> QueryEmbedder | None:
    if settings.lexical_only:
        return None
    from toolmesh.gateway.index.embedder import FastEmbedder

    return FastEmbedder(progress=progress)


def vector_store(settings: GatewaySettings) -> Callable[[Vectors], VectorStore]:
    """In-process arrays by default; a Qdrant server when TOOLMESH_QDRANT_URL is set."""
    if settings.qdrant_url:
        return functools.partial(QdrantVectors, url=settings.qdrant_url, collection=QDRANT_COLLECTION)
    return NumpyVectors


def make_outcomes(settings: GatewaySettings, embedder: QueryEmbedder | None) -> Outcomes | None:
    """The memory of search outcomes (TOOLMESH_LEARNING), or None when off."""
    if settings.learning == "off":
        return None
    if embedder is None:
        raise SettingsError(
            "TOOLMESH_LEARNING needs the embedding model (outcomes are kept by query vector): "
            "unset TOOLMESH_LEARNING or TOOLMESH_LEXICAL_ONLY"
        )
    learning = LearningSettings(
        scope=settings.learning, half_life_seconds=settings.learning_half_life_days * 86_400.0
    )
    return Outcomes(dims=len(embedder.embed_query("dimensions")), settings=learning)


def make_authenticator(settings: GatewaySettings) -> auth.Authenticator:
    """The configured check of callers; a setting that is missing is an error naming it."""
    if settings.auth == "none":
        return auth.Authenticator("none")
    if settings.auth == "api-key":
        if not settings.auth_api_keys:
            raise SettingsError(
                "TOOLMESH_AUTH=api-key needs TOOLMESH_AUTH_API_KEYS (SHA-256 hex digests of the keys)"
            )
        malformed = [str(n) for n, k in enumerate(settings.auth_api_keys, 1) if not SHA256_HEX.fullmatch(k)]
        if malformed:  # never echoed: a key pasted here by mistake must not reach a log
            which = (
                f"entry {malformed[0]} is" if len(malformed) == 1 else f"entries {', '.join(malformed)} are"
            )
            raise SettingsError(
                f"TOOLMESH_AUTH_API_KEYS: {which} not a SHA-256 digest (64 hex digits): list each key's "
                "digest, not the key (printf %s KEY | sha256sum)"
            )
        return auth.Authenticator(
            "api-key", api_key_digests=frozenset(k.lower() for k in settings.auth_api_keys)
        )
    if not settings.auth_issuer:
        raise SettingsError(
            "TOOLMESH_AUTH_ISSUER is required with TOOLMESH_AUTH=jwt (the default): the OAuth issuer whose "
            "tokens the gateway accepts. Or TOOLMESH_AUTH=api-key, or TOOLMESH_AUTH=none for local development."
        )
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    jwks_url = settings.auth_jwks_url or settings.auth_issuer.rstrip("/") + "/.well-known/jwks.json"
    return auth.Authenticator(
        "jwt",
        issuer=settings.auth_issuer,
        audience=settings.auth_audience or base + "/mcp",
        jwks=auth.JwksCache(jwks_url),
    )


def make_identity(
    settings: GatewaySettings, catalog: catalog_mod.GatewayCatalog, secrets: SecretStore, base: str
) -> UpstreamIdentity:
    """Each caller's upstream credentials: Vault (TOOLMESH_VAULT_*) and the OAuth broker, when configured."""
    vault_settings = VaultSettings()
    if not vault_settings.enabled:
        return UpstreamIdentity.without_vault()
    vault = Vault(vault_settings)
    states: StateStore = RedisStates(settings.redis_url) if settings.redis_url else MemoryStates()
    broker = OAuthBroker(
        vault,
        states,
        base,
        vault_settings.user_prefix,
        client_credentials_from(vault, secrets),
        catalog.auth,
        pending_seconds=settings.oauth_pending_seconds,
        token_cache_seconds=min(30.0, vault_settings.cache_seconds),
        keys_cache_seconds=vault_settings.cache_seconds,
    )
    return UpstreamIdentity(vault_settings, broker)


def create_app(settings: GatewaySettings, embedder: QueryEmbedder | None = None) -> web.Application:
    """The gateway for ``settings`` (a folder, or the cluster); pass ``embedder`` to reuse a loaded model."""
    authenticator = make_authenticator(settings)  # first: a missing setting fails before the model loads
    secrets = SecretStore(settings.credentials_dir)
    if settings.source == "cluster":
        gateway_catalog = catalog_mod.GatewayCatalog({}, {}, {})
    else:
        loaded = folder.load(settings.catalog)
        gateway_catalog = catalog_mod.build(loaded)
        secrets.objects = loaded.secrets
    embedder = embedder if embedder is not None else make_embedder(settings)
    router = Router(
        gateway_catalog, embedder, store=vector_store(settings), outcomes=make_outcomes(settings, embedder)
    )
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    protected = ("/mcp", DISCONNECT_PATH)
    origins = OriginPolicy.for_server(
        settings.host, settings.allowed_origins, settings.public_url, settings.allowed_hosts
    )
    app = web.Application(
        middlewares=[
            host_guard(origins),
            auth.middleware(
                authenticator,
                base + auth.METADATA_PATH,
                protected,
                auth.FailureThrottle(settings.auth_failures_per_minute),
            ),
        ]
    )
    if authenticator.jwks is not None:
        jwks = authenticator.jwks

        async def key_fetcher(app: web.Application) -> AsyncIterator[None]:
            async with aiohttp.ClientSession() as http:
                jwks.http = http
                yield

        app.cleanup_ctx.append(key_fetcher)

    async def resource_metadata(request: web.Request) -> web.Response:
        return web.json_response(auth.metadata(base + "/mcp", settings.auth_issuer, settings.auth_scopes))

    app.router.add_get(auth.METADATA_PATH, resource_metadata)
    app.router.add_get(auth.METADATA_PATH + "/mcp", resource_metadata)
    categories: Categories
    if settings.source == "cluster":
        connection = load_connection(settings.kubeconfig)
        namespace = settings.namespace or connection.namespace
        source = ClusterSource(namespace, gateway_catalog, router.rebuild)
        categories = ClusterCategories(
            source,
            namespace,
            call_timeout=settings.call_timeout_seconds,
            wake_timeout=settings.category_start_seconds,
            renew_seconds=settings.demand_renew_seconds,
            holder=socket.gethostname(),
            endpoints=dict(settings.category_endpoints),
        )

        async def follow_cluster(app: web.Application) -> AsyncIterator[None]:
            async with (
                KubeClient(connection, user_agent="toolmesh-gateway") as kube,
                aiohttp.ClientSession() as http,
            ):
                await source.start(kube, http)
                yield
                await source.close()

        app.cleanup_ctx.append(follow_cluster)
    else:
        categories = LocalCategories(
            settings.catalog,
            settings.category_start_seconds,
            settings.category_idle_seconds,
            settings.call_timeout_seconds,
            endpoints=dict(settings.category_endpoints),
        )
    identity = make_identity(settings, gateway_catalog, secrets, base)
    service = GatewayService(settings, gateway_catalog, router, categories, identity=identity)
    if isinstance(categories, ClusterCategories):
        categories.on_connect_retry = lambda category: service.metrics.connect_retries.labels(category).inc()
    if identity.broker is not None:
        identity.broker.on_event = lambda integration, event: service.metrics.oauth.labels(
            integration, event
        ).inc()
    identity_routes.add_routes(app, lambda: identity.broker)

    async def identity_lifespan(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http:
            if identity.broker is not None:
                identity.broker.http = http
            yield
            await identity.close()

    app.cleanup_ctx.append(identity_lifespan)
    endpoint = McpEndpoint(server_mod.build(service), origins)
    app[SERVICE] = service

    async def supervise(app: web.Application) -> AsyncIterator[None]:
        async def reap() -> None:
            while True:
                await asyncio.sleep(REAP_EVERY)
                await categories.reap_idle()

        task = asyncio.create_task(reap(), name="reap-idle-categories")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await categories.close()
        service.close()

    app.cleanup_ctx.append(supervise)
    app.cleanup_ctx.append(endpoint.lifespan)
    app.router.add_route("*", "/mcp", endpoint.handle)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        return web.json_response({
            "mode": "direct" if service.direct else "meta-tools",
            "tools": len(gateway_catalog.tools),
            "categories": sorted({t.category for t in gateway_catalog.tools.values()}),
            "running": sorted(categories.running),
            "problems": gateway_catalog.problems,
        })  # fmt: skip

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(service.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
