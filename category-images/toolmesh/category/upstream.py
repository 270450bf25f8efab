"""Sending built requests to upstream APIs: pooled per origin, bounded in time and size.

One ``aiohttp.ClientSession`` per origin (scheme, host, port) keeps connections alive between
calls. The URL is sent exactly as built (``encoded=True``): the request builder has already applied the
operation's serialization, and re-normalizing it would change what the upstream parses. Redirects
are followed by hand and only to the same origin, so a credential never travels
to a host the integration did not name. Bodies are read up to a cap; the rest is dropped and the
result says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp
from multidict import CIMultiDict
from opentelemetry.trace import SpanKind
from yarl import URL

from toolmesh.category.egress import EgressPolicy, connector_options
from toolmesh.common import tracing
from toolmesh.openapi.request import HttpRequest

REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    reason: str
    content_type: str
    body: bytes
    truncated: bool
    method: str
    url: str  # the final URL, after same-origin redirects
    redirect_refused: str | None = None  # a Location on another origin, not followed
    #: The response's validators, for a conditional request next time (a document at a URL).
    etag: str | None = None
    last_modified: str | None = None


class UpstreamError(Exception):
    """The upstream could not be reached or did not answer in time; the message is for the agent."""


class UpstreamDown(UpstreamError):
    """The upstream could not be connected to, broke off, or did not answer: it looks down (the
    gateway's circuit breakers count these; a refusal by configuration is a plain UpstreamError)."""


class UpstreamTimeout(UpstreamDown):
    """The upstream did not answer within the request's timeout."""


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        chunk = await response.content.read(cap + 1 - size)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:cap], True


class UpstreamPool:
    """Client sessions per origin, created on first use and closed with the app."""

    def __init__(
        self,
        *,
        max_response_bytes: int,
        connect_timeout: float,
        per_host: int,
        max_redirects: int,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.egress = egress if egress is not None else EgressPolicy()
        self.max_response_bytes = max_response_bytes
        self.connect_timeout = connect_timeout
        self.per_host = per_host
        self.max_redirects = max_redirects
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def session(self, url: str) -> aiohttp.ClientSession:
        key = origin(url)
        session = self._sessions.get(key)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.per_host, limit_per_host=self.per_host, **connector_options(self.egress)
            )
            session = aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False)
            self._sessions[key] = session
        return session

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)

    async def send(
        self, request: HttpRequest, *, timeout: float, template: str | None = None
    ) -> UpstreamResponse:
        """Send ``request``; raises UpstreamError for transport failures (never for an HTTP status).

        Tracing on, in a client span named by ``template`` (the operation's path template: the URL
        itself can hold identifiers and credentials), whose trace context the request carries."""
        if not tracing.enabled():
            return await self._send(request, timeout, CIMultiDict(request.headers))
        attributes = tracing.http_client_attributes(request.method, request.url, template)
        with tracing.span(
            tracing.http_span_name(request.method, template), attributes, SpanKind.CLIENT
        ) as span:
            headers = CIMultiDict(request.headers)
            carried: dict[str, str] = {}
            tracing.outgoing(carried)
            headers.update(carried)
            response = await self._send(request, timeout, headers)
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 400:
                tracing.failed(span, str(response.status))
            return response

    async def _send(
        self, request: HttpRequest, timeout: float, headers: CIMultiDict[str]
    ) -> UpstreamResponse:
        method, url, body = request.method, request.url, request.body
        if not urlsplit(url).scheme:
            raise UpstreamError(f"no base URL for {url!r}: set spec.openapi.baseUrl of the integration")
        host = urlsplit(url).hostname or ""
        if not self.egress.permits(host):  # an address in the URL itself: no resolver is asked
            raise UpstreamError(f"{origin(url)}: " + self.egress.refusal(host))
        limits = aiohttp.ClientTimeout(total=timeout, connect=min(self.connect_timeout, timeout))
        for _ in range(self.max_redirects + 1):
            try:
                async with self.session(url).request(
                    method,
                    URL(url, encoded=True),
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                    timeout=limits,
                ) as response:
                    location = response.headers.get("Location")
                    if response.status in REDIRECTS and location:
                        target = urljoin(url, location)
                        if origin(target) != origin(url):
                            return await self._finish(response, method, url, redirect_refused=origin(target))
                        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                            method, body = "GET", None
                            headers.popall("Content-Type", None)
                        url = _carry_query(target, request.redirect_query)
                        continue
                    return await self._finish(response, method, url)
            except TimeoutError:
                raise UpstreamTimeout(
                    f"{origin(url)} did not answer within {timeout:g} s (spec.timeoutSeconds)"
                ) from None
            except aiohttp.ClientConnectorError as exc:
                raise UpstreamDown(
                    f"cannot connect to {origin(url)}: {exc.os_error.strerror or exc}"
                ) from None
            except aiohttp.ClientError as exc:
                raise UpstreamDown(f"request to {origin(url)} failed: {type(exc).__name__}") from None
        raise UpstreamError(f"{origin(url)} redirected more than {self.max_redirects} times")

    async def _finish(
        self, response: aiohttp.ClientResponse, method: str, url: str, *, redirect_refused: str | None = None
    ) -> UpstreamResponse:
        body, truncated = await _read_capped(response, self.max_response_bytes)
        return UpstreamResponse(
            status=response.status,
            reason=response.reason or "",
            content_type=response.headers.get("Content-Type", ""),
            body=body,
            truncated=truncated,
            method=method,
            url=url,
            redirect_refused=redirect_refused,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )


def _carry_query(url: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """``url`` with each encoded ``pairs`` name the redirect's own query does not already have."""
    query = urlsplit(url).query
    present = {part.partition("=")[0] for part in query.split("&") if part}
    missing = [f"{name}={value}" for name, value in pairs if name not in present]
    if not missing:
        return url
    head, _, fragment = url.partition("#")
    separator = "&" if query else ("" if head.endswith("?") else "?")
    joined = head + separator + "&".join(missing)
    return joined + ("#" + fragment if fragment else "")
