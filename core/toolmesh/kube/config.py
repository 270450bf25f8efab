"""Where the API server is and how to authenticate: in-cluster service account, or a kubeconfig.

The kubeconfig is read by the ``kubernetes`` package's loader (contexts, exec plugins, inline or
file certificates), then turned into what aiohttp needs: a server URL, an SSL context and headers.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Connection:
    server: str
    ssl_context: ssl.SSLContext | bool
    headers: dict[str, str] = field(default_factory=dict)
    namespace: str = "default"
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    token: str | None = None


def _ssl_context(
    ca_file: str | None, cert_file: str | None, key_file: str | None, verify: bool
) -> ssl.SSLContext | bool:
    if not verify:
        return False
    context = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def load_connection(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """In a pod, the service account; else ``kubeconfig`` (default: $KUBECONFIG, ~/.kube/config)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    namespace = "default"
    if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ and SERVICE_ACCOUNT.is_dir():
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        namespace = (SERVICE_ACCOUNT / "namespace").read_text().strip()
    else:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
        )
        _, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        namespace = (active or {}).get("context", {}).get("namespace") or "default"
    headers = {}
    token = None
    auth = (configuration.api_key or {}).get("authorization") or (configuration.api_key or {}).get(
        "BearerToken"
    )
    if auth:
        token = auth.removeprefix("Bearer ").strip()
        headers["Authorization"] = f"Bearer {token}"
    return Connection(
        server=configuration.host.rstrip("/"),
        ssl_context=_ssl_context(
            configuration.ssl_ca_cert,
            configuration.cert_file,
            configuration.key_file,
            configuration.verify_ssl,
        ),
        headers=headers,
        namespace=namespace,
        ca_file=configuration.ssl_ca_cert,
        cert_file=configuration.cert_file,
        key_file=configuration.key_file,
        token=token,
    )
