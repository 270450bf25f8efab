"""Documents at ``spec.openapi.spec.url``: fetched within the compiler's budget, cached by URL with
their SHA-256 digest and validators, and revalidated when fetched again.

The category server fetches each document when it loads and again every
``TOOLMESH_CATEGORY_SPEC_REFRESH_SECONDS`` (docs/design/0022). A fetch again sends the validators the
last answer gave (``If-None-Match`` for an ``ETag``, ``If-Modified-Since`` for a ``Last-Modified``);
a ``304 Not Modified`` is the cached document, unread. The caller compares digests: a document
whose digest it has compiled already is not compiled again, whether it came back 304 or whole.
The cache lives in the process's memory: one entry per URL, as many as the catalog names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from toolmesh.catalog import fetch
from toolmesh.category.upstream import UpstreamError, UpstreamPool, UpstreamTimeout
from toolmesh.openapi.request import HttpRequest

#: Longest a document may take to arrive, connection included (the same for every process).
TIMEOUT_SECONDS = fetch.TIMEOUT_SECONDS


class SpecUnavailable(Exception):
    """The document could not be had; the message names the field, the URL and the cause."""


@dataclass(frozen=True)
class Document:
    body: bytes
    sha256: str
    etag: str | None = None
    last_modified: str | None = None
    #: Did this fetch come back 304 (the cached document, not read again)?
    not_modified: bool = False


@dataclass
class SpecCache:
    pool: UpstreamPool
    documents: dict[str, Document] = field(default_factory=dict)

    async def fetch(self, url: str) -> Document:
        """The document at ``url``: from the network, or the cached one when the server says it
        has not changed. SpecUnavailable (the cache kept) when it cannot be had."""
        cached = self.documents.get(url)
        headers = [("Accept", fetch.ACCEPT)]
        if cached is not None and cached.etag:
            headers.append(("If-None-Match", cached.etag))
        if cached is not None and cached.last_modified:
            headers.append(("If-Modified-Since", cached.last_modified))
        try:
            response = await self.pool.send(HttpRequest("GET", url, tuple(headers)), timeout=TIMEOUT_SECONDS)
        except UpstreamTimeout:
            raise SpecUnavailable(
                f"spec.openapi.spec.url: {url}: the document did not arrive within {TIMEOUT_SECONDS:g} s"
            ) from None
        except UpstreamError as exc:
            raise SpecUnavailable(f"spec.openapi.spec.url: {exc}") from None
        if response.status == 304 and cached is not None:
            return Document(cached.body, cached.sha256, cached.etag, cached.last_modified, not_modified=True)
        if response.status != 200:
            raise SpecUnavailable(f"spec.openapi.spec.url: {url} answered HTTP {response.status}")
        if response.truncated:
            raise SpecUnavailable(
                f"spec.openapi.spec.url: {fetch.too_large(url, self.pool.max_response_bytes)}"
            )
        document = Document(
            response.body, hashlib.sha256(response.body).hexdigest(), response.etag, response.last_modified
        )
        self.documents[url] = document
        return document
