"""``toolmesh dev`` (the local stack) and ``toolmesh search`` (the router from the command line)."""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from toolmesh.common.startup import listen, one_line
from toolmesh.gateway.settings import CONFIGURATION_ERRORS, GatewaySettings

if TYPE_CHECKING:
    from aiohttp import web

    from toolmesh.gateway.service import GatewayService

#: ``toolmesh dev``'s own events, logged as the gateway and its category servers log theirs (one
#: format: console on a terminal, JSON lines otherwise; common/logging.py).
EV_INDEXING = "dev.indexing"
EV_INDEXED = "dev.indexed"
EV_PROBLEM = "dev.problem"
EV_LISTENING = "dev.listening"
log = structlog.get_logger("toolmesh.gateway")


def add_dev_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "catalog", type=Path, help="folder of MCPCategory/MCPIntegration objects, e.g. examples/catalog"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument(
        "--direct-tools-limit", type=int, help="list tools directly up to this many (default 32)"
    )
    parser.add_argument(
        "--lexical-only", action="store_true", help="route with BM25 alone (no embedding model)"
    )


def add_search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="what you want to do, in plain words")
    parser.add_argument(
        "--catalog", type=Path, required=True, help="folder of MCPCategory/MCPIntegration objects"
    )
    parser.add_argument("--limit", type=int, default=10, help="most tools to show (default 10)")
    parser.add_argument(
        "--lexical-only", action="store_true", help="route with BM25 alone (no embedding model)"
    )


def client_config(url: str) -> str:
    desktop = json.dumps({"mcpServers": {"toolmesh": {"type": "http", "url": url}}}, indent=2)
    vscode = json.dumps({"servers": {"toolmesh": {"type": "http", "url": url}}}, indent=2)
    return (
        f"MCP endpoint: {url}\n\n"
        f"Claude Code:\n  claude mcp add --transport http toolmesh {url}\n\n"
        f"Claude Desktop (claude_desktop_config.json):\n{desktop}\n\n"
        f"VS Code (.vscode/mcp.json):\n{vscode}\n"
    )


def _settings(args: argparse.Namespace) -> GatewaySettings:
    # The local stack: no caller authentication (it listens on loopback unless told otherwise).
    overrides: dict[str, object] = {
        "catalog": args.catalog,
        "lexical_only": args.lexical_only,
        "auth": "none",
    }
    for key in ("host", "port", "direct_tools_limit"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    return GatewaySettings(**overrides)  # type: ignore[arg-type]


def _check_catalog(path: Path, command: str) -> bool:
    if not path.is_dir():
        print(f"toolmesh {command}: {path} is not a folder", file=sys.stderr)
        return False
    return True


def progress_bar() -> Callable[[int, int], None]:
    """Embedding progress (first start only: vectors are cached): a bar on a terminal; elsewhere
    log lines in the process's format, like the gateway's in a pod (app.make_embedder)."""
    from toolmesh.common import progress
    from toolmesh.gateway.app import EV_EMBEDDING

    if progress.on_terminal(sys.stderr):
        return progress.BarProgress("embedding tools", unit="tools")
    return progress.LogProgress(log.info, EV_EMBEDDING)


def _prepare(
    command: str, read: Callable[[], GatewaySettings]
) -> tuple[GatewaySettings, socket.socket] | None:
    """The settings, read once, and the socket listening where they say, with logging configured;
    None when either fails (said on stderr, in one line)."""
    from toolmesh.common import logging as logging_setup
    from toolmesh.common import tracing

    try:
        settings = read()
        tracing.setup(tracing.GATEWAY)
    except CONFIGURATION_ERRORS as exc:
        print(f"toolmesh {command}: {one_line(exc)}", file=sys.stderr)
        return None
    listener = listen(settings.host, settings.port, command)
    if listener is None:
        return None
    logging_setup.configure(settings.log_level, settings.log_format)
    return settings, listener


def _assemble(
    command: str, listener: socket.socket, create: Callable[[], web.Application]
) -> web.Application | None:
    """The app ``create`` makes; None (the socket closed) when a setting is wrong, said on stderr."""
    try:
        return create()
    except CONFIGURATION_ERRORS as exc:
        listener.close()
        print(f"toolmesh {command}: {one_line(exc)}", file=sys.stderr)
        return None


def summary(service: GatewayService, started: float) -> list[tuple[str, dict[str, Any]]]:
    """What ``toolmesh dev`` logs once the catalog is indexed: the count, then each problem (as
    ``/readyz`` names them)."""
    tools = service.catalog.tools
    lines: list[tuple[str, dict[str, Any]]] = [
        (EV_INDEXED, {
            "tools": len(tools), "categories": len({t.category for t in tools.values()}),
            "mode": "direct" if service.direct else "meta-tools",
            "seconds": round(time.perf_counter() - started, 1),
        }),
    ]  # fmt: skip
    lines += [
        (EV_PROBLEM, {"integration": name, "problem": problem})
        for name, problem in sorted(service.catalog.problems.items())
    ]
    lines += [
        (EV_PROBLEM, {"category": name, "problem": problem})
        for name, problem in sorted(service.categories.problems().items())
    ]
    return lines


def dev(args: argparse.Namespace) -> int:
    if not _check_catalog(args.catalog, "dev"):
        return 2
    from aiohttp import web

    from toolmesh.gateway.app import SERVICE, create_app, make_embedder

    prepared = _prepare("dev", lambda: _settings(args))
    if prepared is None:
        return 2
    settings, listener = prepared
    url = f"http://{settings.host}:{listener.getsockname()[1]}/mcp"
    # The category servers of MCP servers and URL specs start now too, to discover their tools.
    log.info(EV_INDEXING, catalog=str(settings.catalog))
    started = time.perf_counter()
    app = _assemble("dev", listener, lambda: create_app(settings, make_embedder(settings, progress_bar())))
    if app is None:
        return 2
    service = app[SERVICE]

    async def ready(app: web.Application) -> None:  # after discovery: the source's lifespan is done
        for event, fields in summary(service, started):
            (log.warning if event == EV_PROBLEM else log.info)(event, **fields)
        log.info(
            EV_LISTENING, mcp=url, console=f"{url.removesuffix('/mcp')}/console" if settings.console else None
        )
        print(client_config(url), flush=True)  # stdout: what to paste into a client, not a log

    app.on_startup.append(ready)
    web.run_app(app, sock=listener, print=None, handler_cancellation=True)
    return 0


def search(args: argparse.Namespace) -> int:
    if not _check_catalog(args.catalog, "search"):
        return 2
    import asyncio

    from toolmesh.common import logging as logging_setup
    from toolmesh.gateway.app import make_embedder
    from toolmesh.gateway.router import Router, compact
    from toolmesh.gateway.source import FolderSource

    settings = _settings(args)
    logging_setup.configure(settings.log_level, settings.log_format)  # on stderr: stdout is the ranking
    gateway_catalog = asyncio.run(FolderSource(settings).discover_once())
    for name, problem in sorted(gateway_catalog.problems.items()):
        print(f"toolmesh search: integration {name}: {problem}", file=sys.stderr)
    router = Router(gateway_catalog, make_embedder(settings, progress_bar()))
    found = router.search(args.query, limit=args.limit, budget=10**9)
    if not found:
        print("no tools match")
        return 1
    for rank, record in enumerate(found, start=1):
        print(f"{rank:>2}. {compact(record)}")
    return 0


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="watch MCPCategory/MCPIntegration in the cluster (same as TOOLMESH_SOURCE=cluster)",
    )
    parser.add_argument(
        "--namespace", help="cluster mode: namespace of the objects (default: the gateway's own)"
    )
    parser.add_argument("--catalog", type=Path, help="folder mode: folder of objects")
    parser.add_argument("--host", help="address to listen on (TOOLMESH_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (TOOLMESH_PORT)")


def serve(args: argparse.Namespace) -> int:
    """``toolmesh gateway``: the gateway as it runs in production; every setting also from TOOLMESH_*."""
    from aiohttp import web

    from toolmesh.gateway.app import create_app

    overrides: dict[str, object] = {}
    if args.cluster:
        overrides["source"] = "cluster"
    for key in ("namespace", "catalog", "host", "port"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    prepared = _prepare("gateway", lambda: GatewaySettings(**overrides))  # type: ignore[arg-type]
    if prepared is None:
        return 2
    settings, listener = prepared
    app = _assemble("gateway", listener, lambda: create_app(settings))
    if app is None:
        return 2
    web.run_app(app, sock=listener, print=None, handler_cancellation=True)
    return 0
