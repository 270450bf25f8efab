"""kopf registrations: watch streams in, reconcile requests out. Every handler is a few lines.

kopf is used for what it is best at: watching many resources, with reconnects, and posting Events.
The handlers are ``on.event`` handlers that only request a level-based reconcile (reconcile.py),
so kopf stores no progress or diff-base annotations on our objects and never writes their status;
its storage and finalizer are still renamed under ``toolmesh.dev`` (docs/design/0007).
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import kopf
from aiohttp import web

from toolmesh.api import GROUP, VERSION
from toolmesh.api.meta import ObjectMeta
from toolmesh.common import ops_listener
from toolmesh.kube import Connection, KubeClient
from toolmesh.operator import metrics, names, observed
from toolmesh.operator.reconcile import Operator
from toolmesh.operator.settings import OperatorSettings

registry = kopf.OperatorRegistry()
OURS = {names.MANAGED_BY: names.MANAGED_BY_VALUE}
CHILD_KINDS = (
    ("", "v1", "serviceaccounts"),
    ("", "v1", "configmaps"),
    ("", "v1", "services"),
    ("apps", "v1", "deployments"),
    ("autoscaling", "v2", "horizontalpodautoscalers"),
    ("policy", "v1", "poddisruptionbudgets"),
)


def _operator(memo: kopf.Memo) -> Operator:
    operator: Operator = memo.operator
    return operator


def _meta(body: kopf.Body) -> ObjectMeta:
    return ObjectMeta.model_validate(dict(body.metadata))


@kopf.on.startup(registry=registry)
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: object) -> None:
    settings.persistence.finalizer = f"{names.DOMAIN}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=names.DOMAIN)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=names.DOMAIN, key="last-handled-configuration"
    )
    settings.posting.enabled = False  # Events only for what an admin must act on: events.py posts those
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.error_backoffs = [1, 2, 5, 10]
    settings.scanning.disabled = (
        True  # the kinds are known: no cluster-wide watch of CRDs (and no RBAC for it)
    )
    connection: Connection = memo.connection
    config: OperatorSettings = memo.settings
    memo.operator = Operator(
        KubeClient(connection, user_agent="toolmesh-operator"),
        aiohttp.ClientSession(headers={"User-Agent": "toolmesh-operator"}),
        config,
    )
    await memo.operator.prime()
    memo.resync = asyncio.create_task(_resync(memo.operator, config), name="resync")
    memo.metrics = await _serve_metrics(memo.operator, config)


async def _serve_metrics(operator: Operator, config: OperatorSettings) -> web.AppRunner | None:
    """/metrics (and /healthz, /readyz) on the metrics port, if one is set."""
    if config.metrics_port is None:
        return None
    app = web.Application()
    ops_listener.add_routes(
        app, lambda: ({"status": "ok"}, 200), metrics.registry(lambda: operator.integrations)
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.metrics_host, config.metrics_port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner


async def _resync(operator: Operator, config: OperatorSettings) -> None:
    """Reconcile every category periodically: idle deadlines, and drift that no event reported."""
    while True:
        await asyncio.sleep(config.resync_seconds)
        scopes: list[str | None] = [*config.namespaces] or [None]
        for namespace in scopes:
            with contextlib.suppress(Exception):
                items, _ = await operator.client.list("MCPCategory", namespace)  # JSON: even invalid ones
                for meta in (ObjectMeta.model_validate(item["metadata"]) for item in items):
                    operator.category_queue.request((meta.namespace, meta.name))


@kopf.on.cleanup(registry=registry)
async def cleanup(memo: kopf.Memo, **_: object) -> None:
    memo.resync.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await memo.resync
    if memo.metrics is not None:
        await memo.metrics.cleanup()
    operator = _operator(memo)
    await operator.close()
    await operator.http.close()
    await operator.client.close()


@kopf.on.login(registry=registry)
def login(memo: kopf.Memo, **_: object) -> kopf.ConnectionInfo:
    connection: Connection = memo.connection
    return kopf.ConnectionInfo(
        server=connection.server,
        ca_path=connection.ca_file,
        insecure=connection.ssl_context is False,
        token=connection.token,
        certificate_path=connection.cert_file,
        private_key_path=connection.key_file,
        default_namespace=connection.namespace,
    )


@kopf.on.event(GROUP, VERSION, "mcpintegrations", registry=registry)
def integration_event(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: object) -> None:
    if type == "DELETED":
        meta = _meta(body)
        _operator(memo).integration_gone((meta.namespace, meta.name))
    else:
        _operator(memo).integration_seen(observed.integration(dict(body)))


@kopf.on.event(GROUP, VERSION, "mcpcategories", registry=registry)
def category_event(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: object) -> None:
    meta = _meta(body)
    _operator(memo).category_seen((meta.namespace, meta.name), type)


def _owner_category(meta: ObjectMeta) -> str | None:
    for ref in meta.owner_references:
        if ref.kind == "MCPCategory" and ref.api_version.startswith(f"{GROUP}/"):
            return ref.name
    return None


def _child_event(body: kopf.Body, memo: kopf.Memo, **_: object) -> None:
    """A child changed or vanished: reconcile its category (drift is put back, status follows)."""
    meta = _meta(body)
    if (category := _owner_category(meta)) is not None:
        _operator(memo).category_queue.request((meta.namespace, category))


for _group, _version, _plural in CHILD_KINDS:
    kopf.on.event(_group, _version, _plural, labels=OURS, registry=registry)(_child_event)


@kopf.on.event(
    "coordination.k8s.io", "v1", "leases", labels={names.CATEGORY_LABEL: kopf.PRESENT}, registry=registry
)
def demand_event(body: kopf.Body, memo: kopf.Memo, **_: object) -> None:
    """The gateway renewed a category's demand Lease: wake it (or keep it awake)."""
    meta = _meta(body)
    if category := meta.labels.get(names.CATEGORY_LABEL, ""):
        _operator(memo).category_queue.request((meta.namespace, category))


async def run(
    settings: OperatorSettings,
    connection: Connection,
    *,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
    memo: kopf.Memo | None = None,
) -> None:
    """Run the operator until ``stop_flag`` is set (or forever)."""
    memo = memo if memo is not None else kopf.Memo()
    memo.settings = settings
    memo.connection = connection
    await kopf.operator(
        registry=registry,
        memo=memo,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        standalone=True,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
        liveness_endpoint=settings.liveness_endpoint,
    )
