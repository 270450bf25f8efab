"""A category server's settings: read once at the entry point, Vault's with them, and a wrong
variable named in one line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import ValidationError

from toolmesh.category import __main__ as entry
from toolmesh.category.arguments import add_arguments
from toolmesh.category.settings import CategorySettings


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ADDR", "AUTH_METHOD", "CACHE_SECONDS", "TIMEOUT_SECONDS"):
        monkeypatch.delenv(f"TOOLMESH_VAULT_{name}", raising=False)
    for name in ("PORT", "EGRESS", "EGRESS_ALLOW", "CATALOG"):
        monkeypatch.delenv(f"TOOLMESH_CATEGORY_{name}", raising=False)


def test_the_defaults_run_a_local_server_without_vault() -> None:
    settings = CategorySettings()
    assert (settings.host, settings.port, settings.catalog, settings.egress) == (
        "127.0.0.1",
        8081,
        Path("."),
        "any",
    )
    assert settings.vault.enabled is False


def test_vault_is_read_from_its_own_variables_with_the_category_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOOLMESH_VAULT_ADDR", "http://vault.example:8200")
    monkeypatch.setenv("TOOLMESH_VAULT_CACHE_SECONDS", "5")
    settings = CategorySettings(port=0)
    assert settings.vault.enabled is True
    assert (settings.vault.addr, settings.vault.cache_seconds) == ("http://vault.example:8200", 5.0)


def test_egress_allow_takes_only_networks() -> None:
    assert CategorySettings(egress_allow=["10.0.0.0/8", "fd00::/8"]).egress_allow == [
        "10.0.0.0/8",
        "fd00::/8",
    ]
    with pytest.raises(ValidationError, match=r"'intranet' is not a network \(CIDR, e\.g\. 10\.0\.0\.0/8\)"):
        CategorySettings(egress_allow=["intranet"])


def test_the_command_line_overrides_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOOLMESH_CATEGORY_PORT", "9000")
    monkeypatch.setenv("TOOLMESH_VAULT_ADDR", "http://vault.example:8200")
    settings = entry.read_settings(
        parse(str(tmp_path), "--port", "9100", "--category", "pm", "--log-format", "console")
    )
    assert settings is not None
    assert (settings.catalog, settings.port, settings.category, settings.log_format) == (
        tmp_path,
        9100,
        "pm",
        "console",
    )
    assert settings.vault.addr == "http://vault.example:8200"
    assert entry.read_settings(parse()).port == 9000  # type: ignore[union-attr]


def test_a_wrong_category_variable_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOOLMESH_CATEGORY_EGRESS", "nowhere")
    assert entry.read_settings(parse()) is None
    err = capsys.readouterr().err
    assert err.startswith(
        "toolmesh category serve: TOOLMESH_CATEGORY_EGRESS: Input should be 'any' or 'public'"
    )
    assert err.count("\n") == 1


def test_a_wrong_vault_variable_is_named_as_a_vault_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOOLMESH_VAULT_TIMEOUT_SECONDS", "soon")
    assert entry.read_settings(parse()) is None
    assert capsys.readouterr().err.startswith("toolmesh category serve: TOOLMESH_VAULT_TIMEOUT_SECONDS: ")


def test_a_catalog_that_is_not_a_folder_stops_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert entry.main(["serve", str(tmp_path / "missing"), "--port", "0"]) == 2
    assert capsys.readouterr().err == f"toolmesh category serve: {tmp_path / 'missing'} is not a folder\n"


def test_the_arguments_are_all_optional() -> None:
    args = parse()
    assert (args.catalog, args.category, args.host, args.port, args.log_format) == (
        None,
        None,
        None,
        None,
        None,
    )
    with pytest.raises(SystemExit):
        parse("--log-format", "xml")
