"""One SDK client per caller credential of a federated remote MCP server (``spec.auth.perUser``, or
the authorization-code flow's tokens): each caller reaches the remote with their own credential.

A remote MCP session is bound to the credential it was opened with (the ``Authorization`` header of
every request of the session), so callers cannot share one: each distinct credential gets its own
:class:`toolmesh.common.mcp_client.OwnedClient`, opened on its first call. The clients are kept in
a least-recently-used map keyed by a keyed digest of the credential (BLAKE2b with a key made at
start-up and kept in memory only: the map never holds the credential, and a digest found in a
memory dump cannot be tested against guessed passwords), bounded in two ways
(docs/design/0022): at most ``max_clients`` per integration (the least recently used is closed to
make room, its calls in flight finishing first), and a client unused for ``idle_after`` seconds
closes its connection and is dropped at the next look-up. Nothing here logs a credential or its
digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from mcp import Client

from toolmesh.common.mcp_client import OwnedClient

#: Opens a client to the remote with these request headers (the caller's credential among them).
Opener = Callable[[Mapping[str, str]], Callable[[], AbstractAsyncContextManager[Client]]]

#: Made once per process: digests are comparable within it and meaningless outside it.
_KEY = os.urandom(32)


def credential_key(headers: Mapping[str, str]) -> str:
    """A keyed digest of the headers that carry a caller's credential (order-independent)."""
    digest = hashlib.blake2b(key=_KEY, digest_size=16)
    for name, value in sorted((k.lower(), v) for k, v in headers.items()):
        digest.update(name.encode() + b"\0" + value.encode() + b"\0")
    return digest.hexdigest()


@dataclass
class _Entry:
    client: OwnedClient
    used: float


@dataclass
class CallerClients:
    """The clients of one integration's callers, by credential digest, least recently used first."""

    name: str  # the integration, for messages
    open: Opener
    timeout: float
    max_clients: int
    idle_after: float
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    _closing: set[asyncio.Task[None]] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self._entries)

    def client(self, headers: Mapping[str, str]) -> OwnedClient:
        """The caller's client (opened by its first call); expired and surplus clients are closed."""
        now = self.clock()
        self._expire(now)
        key = credential_key(headers)
        entry = self._entries.get(key)
        if entry is None:
            connect = self.open(dict(headers))
            owned = OwnedClient(self.name, connect, self.timeout, idle_after=self.idle_after, discover=False)
            entry = self._entries[key] = _Entry(owned, now)
            while len(self._entries) > self.max_clients:
                _, oldest = self._entries.popitem(last=False)
                self._close(oldest.client)
        else:
            entry.used = now
            self._entries.move_to_end(key)
        return entry.client

    def _expire(self, now: float) -> None:
        while self._entries:
            key, oldest = next(iter(self._entries.items()))
            if now - oldest.used < self.idle_after:
                break
            del self._entries[key]
            self._close(oldest.client)

    def _close(self, client: OwnedClient) -> None:
        """Close in the background: the calls in flight on it finish first (its owner's task group)."""
        task = asyncio.create_task(client.stop(), name=f"mcp-client-close-{self.name}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def stop(self) -> None:
        entries, self._entries = list(self._entries.values()), OrderedDict()
        await asyncio.gather(*(e.client.stop() for e in entries), *self._closing, return_exceptions=True)
