"""The gateway process: MCP at ``/mcp``, ``/healthz``, catalog state at ``/readyz``, ``/metrics``.

``create_app`` assembles it from small factories, the same way in both modes: the catalog source
(source.py: a folder, or the cluster) is chosen once, and provides the catalog, the categories
calls go to, and what runs while the app does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from toolmesh.common.mcp_aiohttp import McpEndpoint, OriginPolicy, host_guard
from toolmesh.common.progress import LogProgress
from toolmesh.common.secrets import SecretStore
from toolmesh.gateway import auth, ops, resource_metadata
from toolmesh.gateway import catalog as catalog_mod
from toolmesh.gateway import server as server_mod
from toolmesh.gateway import source as source_mod
from toolmesh.gateway.console import routes as console_routes
from toolmesh.gateway.identity import routes as identity_routes
from toolmesh.gateway.identity.credentials import UpstreamIdentity, client_credentials_from
from toolmesh.gateway.identity.oauth import DISCONNECT_PATH, OAuthBroker
from toolmesh.gateway.identity.states import MemoryStates, RedisStates, StateStore
from toolmesh.gateway.index.hybrid import QueryEmbedder
from toolmesh.gateway.index.model import Location
from toolmesh.gateway.index.outcome_log import OutcomeLog
from toolmesh.gateway.index.outcomes import LearningSettings, Outcomes
from toolmesh.gateway.index.vectors import NumpyVectors, QdrantVectors, Vectors, VectorStore
from toolmesh.gateway.limits.counters import RedisCounters
from toolmesh.gateway.recent import CALLS, Recent
from toolmesh.gateway.router import Router
from toolmesh.gateway.service import GatewayService
from toolmesh.gateway.settings import GatewaySettings, SettingsError
from toolmesh.gateway.signin import routes as signin_routes
from toolmesh.gateway.signin import setup as signin_setup
from toolmesh.gateway.signin.keys import SigningKey
from toolmesh.vault import Vault

SERVICE = web.AppKey("service", GatewayService)
QDRANT_COLLECTION = "toolmesh-tools"
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
UNSPECIFIED = ("0.0.0.0", "::", "")  # listening on every address: no URL a client could use
#: Texts embedded so far while the index is built (first start, new integrations); /readyz's
#: ``problems.index`` says the index lags the catalog while a rebuild is under way.
EV_EMBEDDING = "index.embedding"
log = structlog.get_logger("toolmesh.gateway")


def make_embedder(
    settings: GatewaySettings, progress: Callable[[int, int], None] | None = None
) -> QueryEmbedder | None:
    if settings.lexical_only:
        return None
    from toolmesh.gateway.index.embedder import FastEmbedder

    location = Location(settings.cache, settings.model_dir, settings.embedding_variant)
    shared = None
    if settings.redis_url and settings.shared_vectors:
        from toolmesh.gateway.index.shared_vectors import SharedVectors

        shared = SharedVectors(settings.redis_url)  # every replica embeds each text once between them
    if progress is None:  # a server: a structured log line every 10 s or quarter, not a bar
        progress = LogProgress(log.info, EV_EMBEDDING)
    return FastEmbedder(progress=progress, location=location, shared=shared)


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


def make_log(settings: GatewaySettings) -> OutcomeLog | None:
    """With learning on and Redis configured (TOOLMESH_REDIS_URL, as the chart sets it for more than
    one replica), what is learned is shared by every replica through a Redis stream."""
    return OutcomeLog(settings.redis_url) if settings.learning != "off" and settings.redis_url else None


def make_authenticator(settings: GatewaySettings, key: SigningKey | None = None) -> auth.Authenticator:
    """The configured check of callers; a setting that is missing is an error naming it. With
    delegated sign-in the tokens are the gateway's own, checked with ``key``."""
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
    base = public_base(settings)
    if not settings.public_url and settings.host in UNSPECIFIED:
        raise SettingsError(
            f"TOOLMESH_PUBLIC_URL is required with TOOLMESH_AUTH=jwt when listening on {settings.host}: MCP "
            "clients ask the authorization server for tokens for <public URL>/mcp, the URL they connect to"
        )
    if settings.auth_delegate_client_id:
        key = key or signin_setup.signing_key(settings)
        assert key is not None
        return auth.Authenticator(
            "jwt",
            issuer=base,
            audience=resource_metadata.resource(base),
            jwks=auth.JwksCache.fixed(key.verifier()),
        )
    return auth.Authenticator(
        "jwt",
        issuer=settings.auth_issuer,
        audience=settings.auth_audience or resource_metadata.resource(base),
        jwks=auth.JwksCache(settings.auth_jwks_url, settings.auth_issuer),
    )


def make_identity(
    settings: GatewaySettings, catalog: catalog_mod.GatewayCatalog, secrets: SecretStore, base: str
) -> UpstreamIdentity:
    """Each caller's upstream credentials: Vault (TOOLMESH_VAULT_*) and the OAuth broker, when configured."""
    vault_settings = settings.vault
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


def public_base(settings: GatewaySettings) -> str:
    """The gateway's external base URL: TOOLMESH_PUBLIC_URL, else where it listens."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def guards(
    settings: GatewaySettings, authenticator: auth.Authenticator, origins: OriginPolicy
) -> list[Middleware]:
    """The DNS-rebinding guard (Host, Origin), then the check of callers on /mcp, disconnect and the
    console (every path under /console)."""
    console = (console_routes.PREFIX, console_routes.PREFIX + "/")
    return [
        host_guard(origins),
        auth.middleware(
            authenticator,
            public_base(settings) + auth.METADATA_PATH,
            ("/mcp", DISCONNECT_PATH, *console),
            auth.FailureThrottle(settings.auth_failures_per_minute),
        ),
    ]


def create_app(settings: GatewaySettings, embedder: QueryEmbedder | None = None) -> web.Application:
    """The gateway for ``settings`` (a folder, or the cluster); pass ``embedder`` to reuse a loaded model."""
    key = signin_setup.signing_key(settings)
    authenticator = make_authenticator(settings, key)  # first: a missing setting fails before the model loads
    source = source_mod.choose(settings)
    catalog = source.catalog
    embedder = embedder if embedder is not None else make_embedder(settings)
    outcomes = make_outcomes(settings, embedder)
    router = Router(
        catalog,
        embedder,
        store=vector_store(settings),
        outcomes=outcomes,
        log=make_log(settings) if outcomes is not None else None,
    )
    secrets = SecretStore(settings.credentials_dir, objects=source.secrets)
    identity = make_identity(settings, catalog, secrets, public_base(settings))
    shared_counts = RedisCounters(settings.redis_url) if settings.redis_url else None
    service = GatewayService(
        settings, catalog, router, source.categories, identity=identity, shared_counts=shared_counts,
        recent=Recent(CALLS if settings.console else 0),
    )  # fmt: skip
    service.limits.on_change = source.report_circuit
    origins = OriginPolicy.for_server(
        settings.host, settings.allowed_origins, settings.public_url, settings.allowed_hosts
    )
    endpoint = McpEndpoint(
        server_mod.build(service), origins, fast_call=server_mod.fast_call(service), events=service.events
    )
    app = web.Application(middlewares=guards(settings, authenticator, origins))
    app[SERVICE] = service
    app.cleanup_ctx.extend([
        lambda app: authenticator.lifespan(),
        lambda app: source.lifespan(router.rebuild),
        lambda app: identity.lifespan(),
        lambda app: service.lifespan(),
        endpoint.lifespan,
    ])  # fmt: skip
    base = public_base(settings)
    if key is not None:  # the gateway is the authorization server MCP clients see
        signin = signin_setup.make_signin(settings, base, resource_metadata.resource(base), key)
        app.cleanup_ctx.append(lambda app: signin.lifespan())
        signin_routes.add_routes(app, signin, settings.auth_scopes)
    resource_metadata.add_routes(app, settings, base, base if key is not None else settings.auth_issuer)
    identity_routes.add_routes(app, lambda: identity.broker)
    ops.add_routes(app, service, settings.ops_port, settings.host)
    app.router.add_route("*", "/mcp", endpoint.handle)
    if settings.console:
        console_routes.add_routes(app, service)
    return app
