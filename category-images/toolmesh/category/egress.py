"""Which addresses a category server may send upstream requests to (optional; off by default).

With ``TOOLMESH_CATEGORY_EGRESS=public`` an upstream (an integration's base URL, its redirects on
the same origin, a spec URL) is reached only at globally routable addresses: loopback, private,
link-local (the cloud metadata service at 169.254.169.254), shared, reserved and multicast
addresses are refused unless a network of ``TOOLMESH_CATEGORY_EGRESS_ALLOW`` holds them. The check
is made on the addresses a name resolves to, at connection time, so a name that resolves to an
internal address (or is rebound to one) is refused too. The default, ``any``, sends anywhere: the
local stack's upstreams run on loopback.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class EgressPolicy:
    public_only: bool = False
    allowed: tuple[Network, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, mode: str, allow: list[str]) -> EgressPolicy:
        return cls(mode == "public", tuple(ipaddress.ip_network(n, strict=False) for n in allow))

    def permits(self, host: str) -> bool:
        """May a connection go to this address? (A name that is not an address: see :class:`GuardedResolver`.)"""
        if not self.public_only:
            return True
        try:
            address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        except ValueError:
            return True  # a name: checked once resolved
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_global or any(address in network for network in self.allowed)

    @staticmethod
    def refusal(what: str) -> str:
        return (
            f"{what} is not a public address; this category server sends only to public addresses "
            "(TOOLMESH_CATEGORY_EGRESS=public; allow a network with TOOLMESH_CATEGORY_EGRESS_ALLOW)"
        )


class GuardedResolver(AbstractResolver):
    """The default resolver, keeping only the addresses the policy permits (none: an OSError naming why)."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self.inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        kept = [r for r in found if self.policy.permits(r["host"])]
        if not kept:
            address = found[0]["host"] if found else "no address"
            raise OSError(errno.EACCES, self.policy.refusal(f"{host} resolves to {address}, which"))
        return kept

    async def close(self) -> None:
        await self.inner.close()


def connector_options(policy: EgressPolicy) -> dict[str, Any]:
    """Keyword arguments for ``aiohttp.TCPConnector``: the guarded resolver when the policy is on."""
    return {"resolver": GuardedResolver(policy)} if policy.public_only else {}
