"""``toolmesh`` entry point: dispatches to the subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from toolmesh.api import crdgen
from toolmesh.cli import compile as compile_cmd
from toolmesh.gateway import cli as gateway_cli
from toolmesh.gateway import retrieval_bench

#: The extra of pyproject.toml that installs each optional top-level module. An image carries one
#: component's extra: a command of another component ends with one line naming what to install.
EXTRAS = {
    "kopf": "operator",
    "kubernetes": "kube",
    "numpy": "gateway",
    "fastembed": "gateway",
    "onnxruntime": "gateway",
    "onnx": "gateway",
    "qdrant_client": "gateway",
    "threadpoolctl": "gateway",
    "redis": "gateway",
    "jwt": "gateway",
    "jinja2": "gateway",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolmesh", description="Kubernetes-native MCP gateway: tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compile_cmd.add_parser(sub)
    crds = sub.add_parser("crds", help="generate the CRDs from the API models (--check: fail on drift)")
    crdgen.add_arguments(crds)
    category = sub.add_parser("category", help="run a category server")
    category_sub = category.add_subparsers(dest="category_command", required=True, metavar="COMMAND")
    serve = category_sub.add_parser("serve", help="serve a folder of integrations over MCP")
    from toolmesh.category import arguments as category_arguments

    category_arguments.add_arguments(serve)
    dev = sub.add_parser(
        "dev", help="run the local stack: the gateway, with category servers started on demand"
    )
    gateway_cli.add_dev_arguments(dev)
    gateway = sub.add_parser(
        "gateway", help="run the gateway (folder or cluster mode; settings from TOOLMESH_*)"
    )
    gateway_cli.add_serve_arguments(gateway)
    sub.add_parser("operator", help="run the operator (in a pod: its service account; else $KUBECONFIG)")
    search = sub.add_parser("search", help="rank a catalog's tools for a query")
    gateway_cli.add_search_arguments(search)
    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    retrieval = bench_sub.add_parser(
        "retrieval",
        help="tool retrieval quality on data sets (tools and queries JSONL), pooled, with distractors",
    )

    retrieval_bench.add_arguments(retrieval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ModuleNotFoundError as error:
        extra = EXTRAS.get((error.name or "").partition(".")[0])
        if extra is None:
            raise
        print(
            f"toolmesh {args.command}: needs the {extra!r} extra, which is not installed here "
            f"(no module named {error.name!r}): pip install 'toolmesh[{extra}]'",
            file=sys.stderr,
        )
        return 2


def _operator(args: argparse.Namespace) -> int:
    from toolmesh.operator import __main__ as operator_main

    return operator_main.main()


def _category(args: argparse.Namespace) -> int:
    from toolmesh.category import __main__ as category_main

    return category_main.run(args)


#: Each command's function; a component's modules are imported only by its own command.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "crds": crdgen.run,
    "compile": compile_cmd.run,
    "dev": gateway_cli.dev,
    "gateway": gateway_cli.serve,
    "operator": _operator,
    "search": gateway_cli.search,
    "bench": retrieval_bench.main,
    "category": _category,
}


def run(args: argparse.Namespace) -> int:
    """Runs the parsed command."""
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
