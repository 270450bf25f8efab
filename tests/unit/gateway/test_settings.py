"""Settings are read once, at the entry point, and passed down: the variables components used to read
themselves (TOOLMESH_VAULT_*, TOOLMESH_CACHE, TOOLMESH_MODEL_DIR, TOOLMESH_EMBEDDING_VARIANT) keep
their names and defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolmesh.common.secrets import SecretStore
from toolmesh.gateway.app import make_identity
from toolmesh.gateway.catalog import GatewayCatalog
from toolmesh.gateway.index import model
from toolmesh.gateway.settings import GatewaySettings

VARIABLES = ("TOOLMESH_CACHE", "TOOLMESH_MODEL_DIR", "TOOLMESH_EMBEDDING_VARIANT", "TOOLMESH_VAULT_ADDR")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def test_the_embedding_model_is_where_the_environment_says_with_the_same_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    defaults = GatewaySettings()
    assert (defaults.cache, defaults.model_dir, defaults.embedding_variant) == (
        tmp_path / "xdg" / "toolmesh",
        None,
        "fast",
    )
    assert (
        model.Location(defaults.cache, defaults.model_dir, defaults.embedding_variant)
        == model.Location.from_environment()
    )
    monkeypatch.setenv("TOOLMESH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TOOLMESH_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("TOOLMESH_EMBEDDING_VARIANT", "exact")
    settings = GatewaySettings()
    assert (settings.cache, settings.model_dir, settings.embedding_variant) == (
        tmp_path / "cache",
        tmp_path / "model",
        "exact",
    )
    assert (
        model.Location(settings.cache, settings.model_dir, settings.embedding_variant)
        == model.Location.from_environment()
    )
    monkeypatch.setenv("TOOLMESH_CACHE", "")  # empty is unset, as before
    monkeypatch.setenv("TOOLMESH_MODEL_DIR", "")
    assert (GatewaySettings().cache, GatewaySettings().model_dir) == (tmp_path / "xdg" / "toolmesh", None)


def test_a_variant_other_than_fast_or_exact_is_refused_when_the_settings_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOOLMESH_EMBEDDING_VARIANT", "huge")
    with pytest.raises(ValueError, match="embedding_variant"):
        GatewaySettings()


def test_vault_is_configured_by_the_settings_read_at_the_start_not_by_the_environment_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = GatewaySettings()
    monkeypatch.setenv("TOOLMESH_VAULT_ADDR", "http://127.0.0.1:9")
    catalog = GatewayCatalog({}, {}, {})
    assert make_identity(settings, catalog, SecretStore(), "http://gw").broker is None
    configured = GatewaySettings()
    assert configured.vault.addr == "http://127.0.0.1:9"
    identity = make_identity(configured, catalog, SecretStore(), "http://gw")
    assert identity.broker is not None
    assert identity.settings is configured.vault
