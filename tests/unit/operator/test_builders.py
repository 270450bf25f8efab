"""The category Deployment's Vault wiring (toolmesh.operator.builders): a projected, audience-bound
ServiceAccount token and the kubernetes-auth settings, only when the operator is given a Vault."""

from __future__ import annotations

import kubernetes_validate
import pytest
from pydantic import ValidationError

from toolmesh.api import MCPCategory
from toolmesh.operator import builders, names
from toolmesh.operator.bundle import Bundle
from toolmesh.operator.scaling import Scale
from toolmesh.operator.settings import OperatorSettings

PM = MCPCategory.model_validate(
    {"apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPCategory", "metadata": {"name": "pm"}, "spec": {}}
)
OWNER = {
    "apiVersion": "toolmesh.dev/v1alpha1",
    "kind": "MCPCategory",
    "name": "pm",
    "uid": "u1",
    "controller": True,
}


def build(vault: builders.VaultWiring | None) -> dict[str, object]:
    return builders.deployment(
        PM, "default", OWNER, Bundle(digest="sha256:x"), Scale(1, False), "img:1", vault
    )


def test_without_vault_the_pod_has_no_token_at_all() -> None:
    pod = build(None)["spec"]["template"]["spec"]  # type: ignore[index]
    assert pod["automountServiceAccountToken"] is False
    assert "vault-token" not in {v["name"] for v in pod["volumes"]}
    assert not any(e["name"].startswith("TOOLMESH_VAULT_") for e in pod["containers"][0]["env"])


def test_category_servers_trace_only_when_the_operator_names_a_collector() -> None:
    def env(otlp: str | None) -> dict[str, str]:
        manifest = builders.deployment(
            PM, "default", OWNER, Bundle(digest="sha256:x"), Scale(1, False), "img:1", None, otlp
        )
        container = manifest["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
        return {e["name"]: e["value"] for e in container["env"]}

    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env(None)
    assert (
        env("http://otel.observability:4318")["OTEL_EXPORTER_OTLP_ENDPOINT"]
        == "http://otel.observability:4318"
    )


def test_with_vault_the_pod_logs_in_as_its_own_role_with_a_vault_only_token() -> None:
    manifest = build(builders.VaultWiring("https://vault.vault:8200", audience="vault"))
    kubernetes_validate.validate(manifest, "1.33", strict=True)
    pod = manifest["spec"]["template"]["spec"]  # type: ignore[index]
    assert pod["automountServiceAccountToken"] is False  # the API server's token stays out of the pod
    (volume,) = [v for v in pod["volumes"] if v["name"] == "vault-token"]
    assert volume["projected"]["sources"] == [
        {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 3600, "path": "token"}}
    ]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["TOOLMESH_VAULT_ADDR"] == "https://vault.vault:8200"
    assert env["TOOLMESH_VAULT_AUTH_METHOD"] == "kubernetes"
    assert env["TOOLMESH_VAULT_ROLE"] == names.server("pm") == pod["serviceAccountName"]
    assert env["TOOLMESH_VAULT_SERVICE_ACCOUNT_TOKEN_FILE"] == f"{names.VAULT_TOKEN_MOUNT}/token"
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["vault-token"]["readOnly"] is True


def category(**spec: object) -> MCPCategory:
    return MCPCategory.model_validate(
        {
            "apiVersion": "toolmesh.dev/v1alpha1",
            "kind": "MCPCategory",
            "metadata": {"name": "pm"},
            "spec": spec,
        }
    )


def test_the_hpa_takes_the_scale_down_window_only_when_one_is_asked_for() -> None:
    scaling = {"replicas": {"min": 1, "max": 3}}
    plain = builders.autoscaler(category(**scaling), "default", OWNER)
    assert plain is not None
    assert "behavior" not in plain["spec"]  # type: ignore[operator]
    quick = builders.autoscaler(
        category(**scaling, autoscaling={"scaleDownStabilizationSeconds": 30}), "default", OWNER
    )
    assert quick is not None
    kubernetes_validate.validate(quick, "1.33", strict=True)
    assert quick["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 30}}  # type: ignore[index]


def test_the_operators_category_settings_reach_every_category_server() -> None:
    manifest = builders.deployment(
        PM, "default", OWNER, Bundle(digest="sha256:x"), Scale(1, False), "img:1", None, None,
        (("SPEC_REFRESH_SECONDS", "600"), ("LOG_FORMAT", "console")),
    )  # fmt: skip
    kubernetes_validate.validate(manifest, "1.33", strict=True)
    container = manifest["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    names_ = [e["name"] for e in container["env"]]
    assert len(names_) == len(set(names_))  # one value each: the operator's setting replaces the default
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TOOLMESH_CATEGORY_SPEC_REFRESH_SECONDS"] == "600"
    assert env["TOOLMESH_CATEGORY_LOG_FORMAT"] == "console"


def test_settings_the_operator_sets_itself_cannot_be_given() -> None:
    with pytest.raises(ValidationError, match="PORT is set by the operator itself"):
        OperatorSettings(category_settings={"PORT": "1"})
    with pytest.raises(ValidationError, match="not a setting name"):
        OperatorSettings(category_settings={"toolmesh_category_port": "1"})
    assert OperatorSettings(category_settings={"SPEC_REFRESH_SECONDS": "0"}).category_settings
