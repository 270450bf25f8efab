"""Command-line arguments of ``toolmesh category serve``; imports nothing heavy, so the CLI stays fast."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "catalog",
        type=Path,
        nargs="?",
        help="folder of MCPIntegration objects (default: TOOLMESH_CATEGORY_CATALOG)",
    )
    parser.add_argument("--category", help="serve only this category's integrations")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8081)")
    parser.add_argument("--log-format", choices=["json", "console"], help="log format (default json)")
