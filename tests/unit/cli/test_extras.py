"""Each image carries one component's extra (pyproject.toml, Dockerfile): the ``toolmesh`` command still
starts there, runs its own component, and a command of another component ends with one line naming
the extra to install."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from toolmesh.cli import main as cli_main
from toolmesh.cli.main import EXTRAS

ROOT = Path(__file__).resolve().parents[3]
OPTIONAL = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]

# Runs the CLI with some top-level modules made unimportable, as in an image without their extra.
WITHOUT = """
import importlib.abc, sys
blocked = set(sys.argv[1].split(","))
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Missing())
from toolmesh.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def toolmesh_without(modules: set[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, ",".join(sorted(modules)), *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip


def modules_of(extra: str) -> set[str]:
    return {module for module, name in EXTRAS.items() if name == extra}


def test_a_command_without_its_extra_says_which_extra_in_one_line() -> None:
    result = toolmesh_without(modules_of("gateway"), "gateway", "--catalog", "examples/local")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("toolmesh gateway: needs the 'gateway' extra")
    assert result.stderr.endswith("pip install 'toolmesh[gateway]'\n")
    result = toolmesh_without(modules_of("operator") | modules_of("kube"), "operator")
    assert result.returncode == 2
    assert result.stderr == (
        "toolmesh operator: needs the 'operator' extra, which is not installed here "
        "(no module named 'kopf'): pip install 'toolmesh[operator]'\n"
    )


def test_the_category_server_runs_with_the_core_alone() -> None:
    others = set(EXTRAS)  # every optional module: the category image has none of them
    result = toolmesh_without(others, "category", "serve", "does-not-exist", "--category", "pm")
    assert result.returncode == 2
    assert result.stderr == "toolmesh category serve: does-not-exist is not a folder\n"
    assert toolmesh_without(others, "--help").returncode == 0
    assert toolmesh_without(others, "compile", "examples/catalog/specs/tasks.openapi.yaml").returncode == 0


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


@pytest.mark.parametrize("extra", ["operator", "kube", "gateway"])
def test_the_extras_named_are_those_of_pyproject(extra: str) -> None:
    provides = metadata.packages_distributions()
    direct = {requirement_name(r) for r in OPTIONAL[extra]}
    reachable = set(direct)  # and what they require (onnxruntime comes with fastembed)
    for name in direct:
        reachable |= {requirement_name(r) for r in metadata.requires(name) or [] if "extra ==" not in r}
    for module in modules_of(extra):
        assert {d.lower().replace("_", "-") for d in provides[module]} & reachable, module
    for name in direct:  # each package of the extra is named, so its absence gets the message
        tops = (metadata.distribution(name).read_text("top_level.txt") or "").split()
        tops = tops or [m for m, dists in provides.items() if name in {d.lower() for d in dists}]
        assert {t for t in tops if not t.startswith("_")} <= set(EXTRAS), name


def test_every_command_the_parser_offers_runs_something() -> None:
    parser = cli_main.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == set(cli_main.COMMANDS)
