"""Code shared by the deployable components: MCP over aiohttp, logging. No I/O at import time."""
