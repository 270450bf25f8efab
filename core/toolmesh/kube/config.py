"""Where the API server is and how to authenticate: in-cluster service account, or a kubeconfig.

The kubeconfig is read by the ``kubernetes`` package's loader (contexts, exec plugins, inline or
file certificates), then turned into what aiohttp needs: a server URL, an SSL context and headers.

In a pod the token is the kubelet's projected ServiceAccount token, which it rotates (by default
within an hour, well before it expires): it is read from its file on each request, and the file is
read again only when it changed (one ``stat`` per request).
"""

from __future__ import annotations

import os
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class TokenFile:
    """A bearer token kept in a file that may be replaced at any time (a projected volume)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._token = ""

    def read(self) -> str:
        """The current token; the file is read again only when its inode, size or mtime changed."""
        stat = self.path.stat()  # follows the ..data symlink the kubelet swaps atomically
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if stamp != self._stamp:
                self._token = self.path.read_text().strip()
                self._stamp = stamp
            return self._token


@dataclass(frozen=True)
class Connection:
    server: str
    ssl_context: ssl.SSLContext | bool
    namespace: str = "default"
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    #: A fixed bearer token (from a kubeconfig), or None.
    static_token: str | None = None
    #: A file holding the bearer token, read again whenever it changes (in a pod).
    token_file: TokenFile | None = None

    @property
    def token(self) -> str | None:
        """The bearer token to send now (None for client certificates or no authentication)."""
        if self.token_file is not None:
            return self.token_file.read()
        return self.static_token

    def auth_headers(self) -> dict[str, str]:
        token = self.token
        return {"Authorization": f"Bearer {token}"} if token else {}


def _ssl_context(
    ca_file: str | None, cert_file: str | None, key_file: str | None, verify: bool
) -> ssl.SSLContext | bool:
    if not verify:
        return False
    context = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def in_cluster_connection(
    service_account: Path = SERVICE_ACCOUNT, environ: os._Environ[str] | dict[str, str] = os.environ
) -> Connection:
    """The pod's own credentials, as the kubelet mounts them (token, ca.crt, namespace).

    Read directly rather than through ``kubernetes.config.load_incluster_config``, whose stored
    key is ``"bearer <token>"`` (lowercase: a prefix check for ``Bearer`` missed it and every
    request carried ``Bearer bearer <token>``) and whose token is read once.
    """
    host, port = environ.get("KUBERNETES_SERVICE_HOST", ""), environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise RuntimeError("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not in a pod")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    ca_file = str(service_account / "ca.crt")
    token_file = TokenFile(service_account / "token")
    token_file.read()  # fail here, naming the file, rather than on the first request
    namespace_file = service_account / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else "default"
    return Connection(
        server=f"https://{host}:{port}",
        ssl_context=_ssl_context(ca_file, None, None, True),
        namespace=namespace,
        ca_file=ca_file,
        token_file=token_file,
    )


def load_connection(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """In a pod, the service account; else ``kubeconfig`` (default: $KUBECONFIG, ~/.kube/config)."""
    if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ and SERVICE_ACCOUNT.is_dir():
        return in_cluster_connection()

    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
    )
    _, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    namespace = (active or {}).get("context", {}).get("namespace") or "default"
    keys = configuration.api_key or {}
    auth = keys.get("authorization") or keys.get("BearerToken")
    token = None
    if auth:
        scheme, _, rest = auth.strip().partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" and rest else auth.strip()
    return Connection(
        server=configuration.host.rstrip("/"),
        ssl_context=_ssl_context(
            configuration.ssl_ca_cert,
            configuration.cert_file,
            configuration.key_file,
            configuration.verify_ssl,
        ),
        namespace=namespace,
        ca_file=configuration.ssl_ca_cert,
        cert_file=configuration.cert_file,
        key_file=configuration.key_file,
        static_token=token,
    )
