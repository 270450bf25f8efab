"""Every example CR is accepted; every invalid fixture is rejected, by the CRD and by the models alike.

An invalid fixture states the message it must be rejected with in a ``# expect:`` line. The same
fixture goes through the CRD (as the API server would check it) and through the pydantic models
(as local mode reads it), so the two stay in agreement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tests.conventions.crd_validation import validate
from toolmesh.api import KINDS, crdgen

ROOT = Path(__file__).resolve().parents[2]
CRDS = {k.crd.kind: yaml.safe_load((ROOT / "crds" / crdgen.filename(k)).read_text()) for k in KINDS}
MODELS = {k.crd.kind: k for k in KINDS}


def toolmesh_objects(path: Path) -> list[dict[str, Any]]:
    return [
        d
        for d in yaml.safe_load_all(path.read_text())
        if d and str(d.get("apiVersion", "")).startswith("toolmesh.dev/")
    ]


EXAMPLES = [
    (p, i, d) for p in sorted((ROOT / "examples").rglob("*.yaml")) for i, d in enumerate(toolmesh_objects(p))
]
INVALID = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))


def test_the_examples_hold_both_kinds() -> None:
    assert {d["kind"] for _, _, d in EXAMPLES} == set(MODELS)


@pytest.mark.parametrize(
    ("path", "index", "obj"), EXAMPLES, ids=lambda v: v.name if isinstance(v, Path) else str(v)[:0]
)
def test_every_example_is_accepted_by_its_crd_and_its_model(
    path: Path, index: int, obj: dict[str, Any]
) -> None:
    assert validate(CRDS[obj["kind"]], obj) == []
    MODELS[obj["kind"]].model_validate(obj)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_every_invalid_fixture_is_rejected_with_a_message_naming_the_field(path: Path) -> None:
    text = path.read_text()
    expected = [
        line.split("# expect:", 1)[1].strip() for line in text.splitlines() if line.startswith("# expect:")
    ]
    assert expected, f"{path.name} states no '# expect:' message"
    obj = yaml.safe_load(text)
    errors = validate(CRDS[obj["kind"]], obj)
    assert any(expected[0] in e for e in errors), f"CRD errors {errors} do not contain {expected[0]!r}"
    with pytest.raises(ValidationError) as info:
        MODELS[obj["kind"]].model_validate(obj)
    model_expected = expected[1] if len(expected) > 1 else expected[0]
    assert model_expected in str(info.value)
