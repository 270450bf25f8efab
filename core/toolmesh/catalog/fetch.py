"""Fetching an OpenAPI document from ``spec.openapi.spec.url``, within the compiler's budget.

One reader for every process that fetches a document outside a category server: the gateway in
cluster mode, the operator's checks (both through ``toolmesh.catalog.cluster``) and
``toolmesh compile URL``. A category server fetches through its own upstream pool (egress policy,
same-origin redirects) with the same two limits: :data:`TIMEOUT_SECONDS` and the compiler's
largest document, ``toolmesh.openapi.budgets.MAX_DOCUMENT_BYTES``. A document over either limit
is refused whole, never cut: a cut document would compile to other tools, or not at all.
"""

from __future__ import annotations

import aiohttp

from toolmesh.openapi.budgets import MAX_DOCUMENT_BYTES

#: Longest a document may take to arrive, connection included.
TIMEOUT_SECONDS = 30.0
#: How a document is asked for.
ACCEPT = "application/json, application/yaml;q=0.9, */*;q=0.1"


class FetchError(Exception):
    """The document could not be had; the message names the URL and the cause (safe to show)."""


class TooLarge(FetchError):
    """The document is larger than the budget."""


def size(n: int) -> str:
    """A byte count as people read it (``512 B``, ``3 KiB``, ``64.0 MiB``)."""
    return (
        f"{n} B" if n < 1024 else f"{n / 1024:.0f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"
    )


def too_large(url: str, max_bytes: int) -> TooLarge:
    return TooLarge(f"{url}: the document is larger than the {size(max_bytes)} budget; it is not read")


async def read_capped(content: aiohttp.StreamReader, max_bytes: int, url: str) -> bytes:
    """The whole body, or TooLarge as soon as it passes ``max_bytes`` (what came is dropped)."""
    chunks: list[bytes] = []
    received = 0
    async for chunk in content.iter_chunked(64 * 1024):
        received += len(chunk)
        if received > max_bytes:
            raise too_large(url, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch(
    url: str,
    *,
    http: aiohttp.ClientSession | None = None,
    timeout: float = TIMEOUT_SECONDS,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> bytes:
    """The document at ``url``, whole, within ``timeout`` seconds and ``max_bytes`` bytes.

    Raises FetchError (TooLarge for the size) with a one-line message. ``http``: a session to reuse.
    """
    own = http is None
    session = aiohttp.ClientSession() if http is None else http
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=timeout), headers={"Accept": ACCEPT}
        ) as response:
            if response.status >= 400:
                raise FetchError(f"{url} answered HTTP {response.status}")
            if (response.content_length or 0) > max_bytes:
                raise too_large(url, max_bytes)
            return await read_capped(response.content, max_bytes, url)
    except TimeoutError:
        raise FetchError(f"{url}: the document did not arrive within {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise FetchError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from None
    finally:
        if own:
            await session.close()
