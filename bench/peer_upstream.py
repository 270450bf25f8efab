"""The upstream of bench/peers.py: one MCP server built with the official SDK, served over stdio (for
mcp-proxy and a category server to bridge) or over Streamable HTTP (called directly).

    python bench/peer_upstream.py stdio
    python bench/peer_upstream.py http PORT
"""

from __future__ import annotations

import sys

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

server = MCPServer("peer")


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


def main() -> None:
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.run(
            "streamable-http",
            host="127.0.0.1",
            port=int(sys.argv[2]),
            json_response=True,
            stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )


if __name__ == "__main__":
    main()
