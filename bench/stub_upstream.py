"""A minimal upstream for benchmarks: answers every request with a small JSON body.

python bench/stub_upstream.py PORT [HOST]     # HOST default 127.0.0.1
"""

from __future__ import annotations

import sys

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"id": 1, "title": "Ship", "status": "doing", "path": request.path})


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    web.run_app(app, host=host, port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
