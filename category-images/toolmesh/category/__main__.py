"""``python -m toolmesh.category [serve] DIR``: run a category server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aiohttp import web

from toolmesh.category.app import create_app
from toolmesh.category.arguments import add_arguments
from toolmesh.category.settings import CategorySettings
from toolmesh.common import logging as logging_setup


def run(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in {
        "catalog": args.catalog, "category": args.category, "host": args.host, "port": args.port, "log_format": args.log_format,
    }.items() if v is not None}  # fmt: skip
    settings = CategorySettings(**overrides)
    if not settings.catalog.is_dir():
        print(f"toolmesh category serve: {settings.catalog} is not a folder", file=sys.stderr)
        return 2
    logging_setup.configure(settings.log_level, settings.log_format)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolmesh.category", description="Run a category server.")
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["serve"]:
        args_list = args_list[1:]
    add_arguments(parser)
    return run(parser.parse_args(args_list))


if __name__ == "__main__":
    sys.exit(main())
