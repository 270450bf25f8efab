"""An asynchronous client for the few verbs toolmesh needs: get, list, watch, server-side apply,
patch, create and delete, over one pooled aiohttp session (docs/design/0007 says why not the
``kubernetes`` package's synchronous client).

Every write is counted in :attr:`KubeClient.writes`, so that tests and benchmarks can check that a
resync with nothing to do writes nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import aiohttp
from pydantic import BaseModel

from toolmesh.api.base import TypedObject
from toolmesh.api.meta import Envelope
from toolmesh.kube.config import Connection
from toolmesh.kube.resources import Resource, resource_of

JSON = "application/json"
RETRIES = 5
BACKOFF = 0.2  # seconds, doubled on each retry
APPLY = "application/apply-patch+yaml"  # JSON is YAML: the body is sent as JSON
MERGE = "application/merge-patch+json"
M = TypeVar("M", bound=TypedObject)


class ApiError(Exception):
    """A request the API server refused; ``status`` is the HTTP status, ``reason`` its Status reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def gone(self) -> bool:
        return self.status == 410


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: dict[str, Any]


class KubeClient:
    def __init__(
        self, connection: Connection, *, timeout: float = 30.0, user_agent: str = "toolmesh"
    ) -> None:
        self.connection = connection
        self.writes: Counter[tuple[str, str]] = Counter()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = aiohttp.ClientSession(
            base_url=connection.server,
            headers={"User-Agent": user_agent, "Accept": JSON},
            connector=aiohttp.TCPConnector(ssl=connection.ssl_context, limit=64),
        )

    async def close(self) -> None:
        await self._session.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing ---------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
        kind: str = "",
    ) -> dict[str, Any]:
        # Raw UTF-8, not \u escapes: an apply body is parsed as YAML, which rejects escaped surrogate
        # pairs (an emoji in an OpenAPI description would make the request fail).
        data = None if body is None else json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = self.connection.auth_headers()  # per request: an in-pod token rotates
        if data is not None:
            headers["Content-Type"] = content_type
        if method != "GET" and not (params or {}).get("dryRun"):
            self.writes[(method, kind)] += 1
        for attempt in range(RETRIES + 1):
            try:
                async with self._session.request(
                    method, path, params=params, data=data, headers=headers, timeout=self._timeout
                ) as response:
                    payload = await response.read()
                    if response.status < 400:
                        result: dict[str, Any] = json.loads(payload) if payload else {}
                        return result
                    error = _error(response.status, payload)
                    retry_after = float(response.headers.get("Retry-After", "0") or 0)
            except (aiohttp.ClientConnectionError, TimeoutError):
                if method != "GET" or attempt == RETRIES:
                    raise
                await asyncio.sleep(BACKOFF * 2**attempt)
                continue
            # 429: the server did not process the request (e.g. a new CRD's storage is starting), so
            # any verb may be sent again; a 5xx only for reads, which cannot have had an effect.
            retriable = error.status == 429 or (method == "GET" and error.status in (500, 502, 503, 504))
            if not retriable or attempt == RETRIES:
                raise error
            await asyncio.sleep(max(retry_after, BACKOFF * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reads ------------------------------------------------------------------------------------

    @overload
    async def get(self, kind: type[M], namespace: str | None, name: str) -> M | None: ...
    @overload
    async def get(self, kind: str | Resource, namespace: str | None, name: str) -> dict[str, Any] | None: ...
    async def get(
        self, kind: type[M] | str | Resource, namespace: str | None, name: str
    ) -> M | dict[str, Any] | None:
        """The object, or None when it does not exist.

        With a model class (``MCPIntegration``, ``MCPCategory``) the object comes back as that model,
        and one that does not validate raises ``pydantic.ValidationError``; with a kind name, as JSON.
        """
        resource = _resource(kind)
        try:
            raw = await self._request("GET", resource.path(namespace, name))
        except ApiError as exc:
            if exc.not_found:
                return None
            raise
        return raw if isinstance(kind, str | Resource) else kind.model_validate(raw)

    async def exists(
        self, kind: str | Resource | type[TypedObject], namespace: str | None, name: str
    ) -> bool:
        """Does the object exist? (Read as JSON: an object that would not validate exists too.)"""
        return await self.get(_resource(kind), namespace, name) is not None

    @overload
    async def list(
        self, kind: type[M], namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[M], str]: ...
    @overload
    async def list(
        self, kind: str | Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]: ...
    async def list(
        self,
        kind: type[M] | str | Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> tuple[list[M], str] | tuple[list[dict[str, Any]], str]:
        """Every object (all namespaces when ``namespace`` is None) and the list's resourceVersion.

        With a model class, as models (one that does not validate raises ``ValidationError``).
        """
        resource = _resource(kind)
        params = {"labelSelector": label_selector} if label_selector else None
        result = await self._request("GET", resource.path(namespace), params=params)
        items = result.get("items") or []
        for item in items:  # list items carry neither apiVersion nor kind
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
        version = str(result.get("metadata", {}).get("resourceVersion", ""))
        if isinstance(kind, str | Resource):
            return items, version
        return [kind.model_validate(item) for item in items], version

    async def watch(
        self,
        kind: str | Resource,
        namespace: str | None = None,
        *,
        resource_version: str,
        timeout_seconds: int = 300,
        label_selector: str | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """Events after ``resource_version`` until the server ends the watch. ApiError(410) when it is too old."""
        resource = _resource(kind)
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            params["labelSelector"] = label_selector
        timeout = aiohttp.ClientTimeout(total=None, sock_read=timeout_seconds + 30)
        async with self._session.get(
            resource.path(namespace), params=params, headers=self.connection.auth_headers(), timeout=timeout
        ) as response:
            if response.status >= 400:
                raise _error(response.status, await response.read())
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise ApiError(
                        int(status.get("code", 500)),
                        str(status.get("reason", "")),
                        str(status.get("message", "")),
                    )
                obj = event.get("object") or {}
                obj.setdefault("apiVersion", resource.api_version)
                obj.setdefault("kind", resource.kind)
                yield WatchEvent(str(event.get("type")), obj)

    # -- writes -----------------------------------------------------------------------------------

    async def apply(
        self, obj: Mapping[str, Any], *, field_manager: str, force: bool = True, dry_run: bool = False
    ) -> dict[str, Any]:
        """Server-side apply: ``obj`` is the complete intent of ``field_manager`` for this object."""
        resource = resource_of(dict(obj))
        meta = obj["metadata"]
        params = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            params["dryRun"] = "All"
        return await self._request(
            "PATCH",
            resource.path(meta.get("namespace"), meta["name"]),
            params=params,
            body=obj,
            content_type=APPLY,
            kind=resource.kind,
        )

    async def apply_status(
        self, obj: Mapping[str, Any] | TypedObject | Envelope[Any], *, field_manager: str
    ) -> dict[str, Any]:
        """Server-side apply of the object's status through the status subresource.

        ``obj`` is JSON (``obj['status']`` is sent) or a model: a root model or an :class:`Envelope`
        (an object whose spec does not validate still gets a status), whose status is sent.
        """
        body = obj if isinstance(obj, Mapping) else _status_body(obj)
        resource = resource_of(dict(body))
        meta = body["metadata"]
        return await self._request(
            "PATCH",
            resource.path(meta.get("namespace"), meta["name"], "status"),
            params={"fieldManager": field_manager, "force": "true"},
            body=body,
            content_type=APPLY,
            kind=f"{resource.kind}/status",
        )

    async def patch(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str = "",
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        """A JSON merge patch."""
        resource = resource_of(kind)
        params = {"fieldManager": field_manager} if field_manager else None
        return await self._request(
            "PATCH",
            resource.path(namespace, name, subresource),
            params=params,
            body=patch,
            content_type=MERGE,
            kind=resource.kind + (f"/{subresource}" if subresource else ""),
        )

    async def create(self, obj: Mapping[str, Any], *, field_manager: str | None = None) -> dict[str, Any]:
        resource = resource_of(dict(obj))
        params = {"fieldManager": field_manager} if field_manager else None
        return await self._request(
            "POST",
            resource.path(obj["metadata"].get("namespace")),
            params=params,
            body=obj,
            kind=resource.kind,
        )

    async def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        """Delete (background propagation); False when it was already gone."""
        resource = resource_of(kind)
        try:
            await self._request(
                "DELETE",
                resource.path(namespace, name),
                body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
                kind=resource.kind,
            )
        except ApiError as exc:
            if exc.not_found:
                return False
            raise
        return True


def _resource(kind: str | Resource | type[BaseModel]) -> Resource:
    if isinstance(kind, Resource):
        return kind
    if isinstance(kind, str):
        return resource_of(kind)
    if issubclass(kind, TypedObject):
        return resource_of(kind.crd.kind)
    raise TypeError(f"{kind.__name__} is not a resource model")


def _status_body(obj: TypedObject | Envelope[Any]) -> dict[str, Any]:
    """What a status apply sends: the object's identity and its status, nothing of its spec."""
    wire = obj.model_dump(by_alias=True, mode="json", exclude_none=True, include={"status"})
    return {
        "apiVersion": obj.api_version,
        "kind": obj.kind,
        "metadata": {"name": obj.metadata.name, "namespace": obj.metadata.namespace},
        "status": wire.get("status") or {},
    }


def _error(status: int, payload: bytes) -> ApiError:
    try:
        body = json.loads(payload)
    except ValueError:
        return ApiError(status, "", payload.decode(errors="replace")[:500])
    return ApiError(status, str(body.get("reason", "")), str(body.get("message", "")))
