"""The in-pod connection, against the real API server: a ServiceAccount token, CA and namespace
laid out as the kubelet mounts them (``..data`` symlink swapped atomically on rotation), and the
token sent as ``Bearer <token>``, re-read when the kubelet replaces it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolmesh.kube import ApiError, KubeClient
from toolmesh.kube.config import in_cluster_connection, load_connection
from toolmesh.testing.cluster import LocalCluster

pytestmark = pytest.mark.k8s


def project(folder: Path, generation: int, files: dict[str, str]) -> None:
    """Write files the way the kubelet's atomic writer does: a timestamped folder, ``..data`` pointing
    at it (replaced by rename), and each file a symlink through ``..data``."""
    data = folder / f"..{generation}"
    data.mkdir()
    for name, text in files.items():
        (data / name).write_text(text)
    link = folder / "..data_tmp"
    link.symlink_to(data.name)
    os.replace(link, folder / "..data")
    for name in files:
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(f"..data/{name}")


def token_of(cluster: LocalCluster, namespace: str, account: str) -> str:
    cluster.kubectl("create", "serviceaccount", account, "-n", namespace, check=False)
    return cluster.kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout.strip()


def environ(cluster: LocalCluster) -> dict[str, str]:
    return {"KUBERNETES_SERVICE_HOST": cluster.address, "KUBERNETES_SERVICE_PORT": str(cluster.api_port)}


async def test_the_pods_token_is_sent_as_one_bearer_and_reread_when_rotated(
    cluster: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    # A reader that may list ConfigMaps in its namespace, and a second account that may not.
    cluster.kubectl("create", "role", "reader", "--verb=list", "--resource=configmaps", "-n", namespace)
    cluster.kubectl(
        "create", "rolebinding", "reader", "--role=reader", f"--serviceaccount={namespace}:reader", "-n", namespace
    )  # fmt: skip
    cluster.kubectl("create", "configmap", "visible", "--from-literal=k=v", "-n", namespace)
    reader, stranger = token_of(cluster, namespace, "reader"), token_of(cluster, namespace, "stranger")
    mount = tmp_path / "serviceaccount"
    mount.mkdir()
    ca = cluster.ca_file.read_text()
    project(mount, 1, {"token": reader, "ca.crt": ca, "namespace": namespace})

    connection = in_cluster_connection(mount, environ(cluster))
    assert connection.namespace == namespace
    assert connection.auth_headers() == {"Authorization": f"Bearer {reader}"}
    async with KubeClient(connection) as client:
        items, _ = await client.list("ConfigMap", namespace)  # 401 with "Bearer bearer <jwt>"
        assert "visible" in {i["metadata"]["name"] for i in items}

        project(mount, 2, {"token": stranger, "ca.crt": ca, "namespace": namespace})
        with pytest.raises(ApiError) as refused:
            await client.list("ConfigMap", namespace)
        assert refused.value.status == 403  # authenticated as the new account: the file was re-read
        assert f"system:serviceaccount:{namespace}:stranger" in refused.value.message

        project(mount, 3, {"token": reader, "ca.crt": ca, "namespace": namespace})
        await client.list("ConfigMap", namespace)


def test_outside_a_pod_the_in_cluster_connection_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="KUBERNETES_SERVICE_HOST"):
        in_cluster_connection(tmp_path, {})
    with pytest.raises(FileNotFoundError, match="token"):
        in_cluster_connection(
            tmp_path, {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
        )


def test_a_kubeconfig_token_is_sent_once_prefixed(cluster: LocalCluster) -> None:
    connection = load_connection(str(cluster.kubeconfig))
    header = connection.auth_headers()["Authorization"]
    assert header.startswith("Bearer ")
    assert not header.lower().startswith("bearer bearer")
