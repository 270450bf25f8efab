"""The MCPProfile status the gateway writes: what it says, and when its transition time moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolmesh.gateway import profile_status, profiles
from toolmesh.gateway.settings import GatewaySettings, SettingsError
from toolmesh.gateway.source import FolderSource

READY = profiles.Verdict(4, "Direct", "group:support", True, "ToolsSelected", "4 tools selected")
NOT_READY = profiles.Verdict(0, "Direct", "group:support", False, "NoToolsMatched", "no tools")


def test_the_status_carries_the_printer_columns_and_a_ready_condition() -> None:
    status = profile_status.status(READY, 3, None, "2026-01-01T00:00:00Z")
    assert (status["tools"], status["exposure"], status["subjects"], status["observedGeneration"]) == (
        4, "Direct", "group:support", 3,
    )  # fmt: skip
    assert status["conditions"] == [{
        "type": "Ready", "status": "True", "reason": "ToolsSelected", "message": "4 tools selected",
        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 3,
    }]  # fmt: skip


def test_the_transition_time_moves_only_when_ready_changes() -> None:
    first = profile_status.status(READY, 1, None, "2026-01-01T00:00:00Z")
    again = profile_status.status(READY, 2, first, "2026-02-02T00:00:00Z")
    assert again["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    flipped = profile_status.status(NOT_READY, 2, first, "2026-02-02T00:00:00Z")
    assert flipped["conditions"][0]["lastTransitionTime"] == "2026-02-02T00:00:00Z"


def test_local_mode_refuses_to_start_with_a_profile_that_does_not_validate(tmp_path: Path) -> None:
    (tmp_path / "profiles.yaml").write_text(
        "apiVersion: toolmesh.dev/v1alpha1\nkind: MCPProfile\nmetadata: {name: broken}\n"
        "spec: {subjects: {groups: [support]}, tools: {integrations: [Not_A_Name]}}\n"
    )
    with pytest.raises(SettingsError, match=r"MCPProfile broken: spec\.tools\.integrations\.0"):
        FolderSource(GatewaySettings(catalog=tmp_path))


def test_local_mode_loads_profiles_from_the_catalog_folder(tmp_path: Path) -> None:
    (tmp_path / "profiles.yaml").write_text(
        (Path(__file__).parents[3] / "examples" / "profiles" / "profiles.yaml").read_text()
    )
    source = FolderSource(GatewaySettings(catalog=tmp_path))
    assert sorted(source.catalog.profiles) == ["engineering", "everyone-else", "support"]
