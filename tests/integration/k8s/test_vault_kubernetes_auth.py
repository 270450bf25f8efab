"""Kubernetes auth to Vault, for real: OpenBao verifies a category server's ServiceAccount token
with the test API server's TokenReview, then hands out a token whose policy reads only that
category's credentials; the category server calls its upstream with them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from tests import leaks
from tests.conftest import StartCategory
from tests.e2e.stub_upstream import Reply, StubUpstream
from tests.e2e.test_category_server import tasks_server
from toolmesh.testing.cluster import LocalCluster
from toolmesh.testing.vault import DevVault
from toolmesh.vault import Vault, VaultSettings, VaultUnavailable

pytestmark = [pytest.mark.k8s, pytest.mark.vault]
leaks.secret("from-k8s-auth")


def service_account_token(cluster: LocalCluster, namespace: str, name: str, path: Path) -> Path:
    cluster.kubectl("create", "serviceaccount", name, "-n", namespace, check=False)
    token = cluster.kubectl("create", "token", name, "-n", namespace, "--duration=1h").stdout.strip()
    path.write_text(token)
    return path


@pytest.fixture
def kubernetes_auth(
    cluster: LocalCluster, namespace: str, dev_vault: DevVault, tmp_path: Path
) -> Iterator[str]:
    """Vault's kubernetes auth method on the test API server; returns its mount. As an admin sets it up:
    a reviewer ServiceAccount allowed to call TokenReview (system:auth-delegator), a role per category."""
    reviewer = f"vault-reviewer-{namespace}"
    cluster.kubectl("create", "serviceaccount", "vault-reviewer", "-n", namespace)
    cluster.kubectl("create", "clusterrolebinding", reviewer, "--clusterrole=system:auth-delegator",
                    f"--serviceaccount={namespace}:vault-reviewer")  # fmt: skip
    reviewer_jwt = cluster.kubectl(
        "create", "token", "vault-reviewer", "-n", namespace, "--duration=1h"
    ).stdout.strip()
    mount = f"k8s-{uuid.uuid4().hex[:8]}"
    admin = dev_vault.admin()
    admin.sys.enable_auth_method("kubernetes", path=mount)
    admin.auth.kubernetes.configure(
        kubernetes_host=cluster.server, kubernetes_ca_cert=cluster.ca_file.read_text(),
        token_reviewer_jwt=reviewer_jwt, mount_point=mount,
    )  # fmt: skip
    admin.sys.create_or_update_policy(
        f"{mount}-pm", f'path "secret/data/{mount}/pm/*" {{ capabilities = ["read"] }}'
    )
    admin.auth.kubernetes.create_role(
        "toolmesh-category-pm", bound_service_account_names=["toolmesh-category-pm"],
        bound_service_account_namespaces=[namespace], policies=[f"{mount}-pm"], ttl="10m", mount_point=mount,
    )  # fmt: skip
    admin.secrets.kv.v2.create_or_update_secret(path=f"{mount}/pm/tasks", secret={"apiKey": "from-k8s-auth"})
    yield mount
    cluster.kubectl("delete", "clusterrolebinding", reviewer, check=False)


async def test_a_category_pod_logs_in_with_its_service_account(
    cluster: LocalCluster, namespace: str, dev_vault: DevVault, kubernetes_auth: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, start_category: StartCategory,
) -> None:  # fmt: skip
    mount = kubernetes_auth
    token = service_account_token(cluster, namespace, "toolmesh-category-pm", tmp_path / "pm-token")
    env = {"ADDR": dev_vault.addr, "AUTH_METHOD": "kubernetes", "AUTH_MOUNT": mount,
           "ROLE": "toolmesh-category-pm", "SERVICE_ACCOUNT_TOKEN_FILE": str(token)}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(f"TOOLMESH_VAULT_{key}", value)
    upstream = StubUpstream()
    await upstream.start()
    upstream.on("GET", "/v1/projects", Reply(body=[]))
    auth = f"""
      auth:
        type: apiKey
        apiKey: {{in: header, name: X-API-Key}}
        vaultPath: {mount}/pm/tasks"""
    async with Client(await tasks_server(start_category, upstream, auth)) as client:
        result = await client.call_tool("tasks__listProjects", {})
    assert result.is_error is False
    assert upstream.last().headers["X-API-Key"] == "from-k8s-auth"
    await upstream.close()


async def test_another_service_account_is_refused_with_a_clear_error(
    cluster: LocalCluster, namespace: str, dev_vault: DevVault, kubernetes_auth: str, tmp_path: Path
) -> None:
    token = service_account_token(cluster, namespace, "toolmesh-category-crm", tmp_path / "crm-token")
    vault = Vault(VaultSettings(
        addr=dev_vault.addr, auth_method="kubernetes", auth_mount=kubernetes_auth,
        role="toolmesh-category-pm", service_account_token_file=token,
    ))  # fmt: skip
    with pytest.raises(VaultUnavailable, match="refused the kubernetes login; check the role"):
        await vault.read(f"{kubernetes_auth}/pm/tasks")
    await vault.close()
