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
from toolmesh.common import startup, tracing
from toolmesh.vault import VaultSettings


def read_settings(args: argparse.Namespace) -> CategorySettings | None:
    """The process's settings, Vault's with them, read once; None (and one line) if the environment is wrong."""
    overrides = {k: v for k, v in {
        "catalog": args.catalog, "category": args.category, "host": args.host, "port": args.port, "log_format": args.log_format,
    }.items() if v is not None}  # fmt: skip
    prefix = "TOOLMESH_VAULT_"
    try:
        vault = VaultSettings()
        prefix = "TOOLMESH_CATEGORY_"
        return CategorySettings(**overrides, vault=vault)
    except startup.SETTINGS_ERRORS as exc:
        print(f"toolmesh category serve: {startup.one_line(exc, prefix)}", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    settings = read_settings(args)
    if settings is None:
        return 2
    if not settings.catalog.is_dir():
        print(f"toolmesh category serve: {settings.catalog} is not a folder", file=sys.stderr)
        return 2
    try:
        tracing.setup(tracing.CATEGORY, resource={"toolmesh.category": settings.category or ""})
    except tracing.TracingSettingsError as exc:
        print(f"toolmesh category serve: {exc}", file=sys.stderr)
        return 2
    listener = startup.listen(settings.host, settings.port, "category serve")
    if listener is None:
        return 2
    logging_setup.configure(settings.log_level, settings.log_format)
    web.run_app(create_app(settings), sock=listener, print=None, handler_cancellation=True)
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
