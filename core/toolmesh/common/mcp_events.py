"""Lists that change, told to the clients that listen: ``notifications/*/list_changed``.

A server publishes :mod:`mcp.server.subscriptions` events on a bus; 2026-07-28 clients receive
them on a ``subscriptions/listen`` stream (the SDK's ``ListenHandler``, served by ``McpEndpoint``
as an SSE answer), 2025 clients on the standing GET stream of their session, which the endpoint
serves from the same bus (:func:`standing_stream`). :class:`ListWatch` turns what a server lists
into events: it compares a fingerprint of each list with the last one, every ``interval`` seconds,
and publishes what changed (docs/design/0018-protocol-passthrough.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from aiohttp import web
from mcp.server.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ServerEvent,
    SubscriptionBus,
    ToolsListChanged,
)
from mcp.shared.subscriptions import event_to_notification

from toolmesh.common.mcp_sse import EventStream

#: Seconds between keep-alive comments on a stream that may stay quiet for long (proxies close
#: idle connections).
PING_SECONDS = 15.0
#: Events a slow standing stream may fall behind by before it is ended (the client reconnects).
BACKLOG = 256

KINDS: dict[str, ServerEvent] = {
    "tools": ToolsListChanged(),
    "prompts": PromptsListChanged(),
    "resources": ResourcesListChanged(),
}


@dataclass
class ListWatch:
    """Publishes a list's change when its fingerprint (any hashable value) changes."""

    bus: SubscriptionBus
    #: kind ("tools", "prompts", "resources") -> the list's fingerprint now.
    fingerprints: dict[str, Callable[[], Hashable]]
    _last: dict[str, Hashable] = field(default_factory=dict)

    async def check(self) -> list[str]:
        """Publish each list that changed since the last check (not on the first); the kinds published."""
        changed = []
        for kind, fingerprint in self.fingerprints.items():
            now = fingerprint()
            if kind in self._last and self._last[kind] != now:
                changed.append(kind)
                await self.bus.publish(KINDS[kind])
            self._last[kind] = now
        return changed

    async def run(self, interval: float) -> None:
        while True:
            await self.check()
            await asyncio.sleep(interval)


async def keep_alive(stream: EventStream | None) -> None:
    """Keep-alive comments on ``stream`` until cancelled or the client has gone."""
    while stream is not None:
        await asyncio.sleep(PING_SECONDS)
        if not await stream.comment("ping"):
            return


async def standing_stream(request: web.Request, bus: SubscriptionBus) -> web.StreamResponse:
    """A 2025 session's standing GET stream: every list change, until the client goes away."""
    queue: asyncio.Queue[ServerEvent] = asyncio.Queue(BACKLOG)

    def deliver(event: ServerEvent) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a client that stopped reading misses events
            queue.put_nowait(event)

    stream = EventStream(request)
    unsubscribe = bus.subscribe(deliver)
    try:
        await stream.comment("listening")  # commit the stream now: the client knows it is open
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), PING_SECONDS)
            except TimeoutError:
                if not await stream.comment("ping"):
                    break
                continue
            notification = event_to_notification(event, {}).model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
            if notification.get("params") == {"_meta": {}}:  # no subscription id to stamp on this stream
                del notification["params"]
            if not await stream.send({"jsonrpc": "2.0", **notification}):
                break
    finally:
        unsubscribe()
    return await stream.close()
