"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager.

The binaries come from ``hack/kube-binaries.sh`` (built from the Go module proxy, cached outside the
clone). The API server runs as in a real cluster: TLS, RBAC (``Node,RBAC``), the default admission
plugins, service-account token signing. The controller manager runs garbage collection, the HPA
controller and namespace deletion.

Alone it has no data plane: no kubelet, no scheduler, and neither the Deployment nor the ReplicaSet
controller, so no pod ever runs; the integration tier tests the operator's writes, not rollouts.
With a :class:`toolmesh.testing.node.LocalNode` (``make cluster NODE=1``, the ``node`` test tier)
it is a whole cluster: the API server listens on the node network's host address and serves
aggregated APIs (metrics-server's ``metrics.k8s.io``, so HPAs scale on CPU), every controller runs,
and pods run under a real kubelet.

By hand::

    make cluster            # prints KUBECONFIG=...; Ctrl-C stops it
    make cluster NODE=1     # the same with a real node (root; hack/node-deps.sh, hack/node-binaries.sh)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

REPO = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO / "hack" / "kube-binaries.sh"
ADMIN_TOKEN = "toolmesh-admin-token"
DOWNSCALE_STABILIZATION = "30s"


def stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM ``process``'s process group, then SIGKILL it if it has not exited within ``grace`` s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def binaries() -> Path:
    """The folder holding kube-apiserver, kube-controller-manager, kubectl and etcd (built once, then cached)."""
    if override := os.environ.get("TOOLMESH_KUBE_BIN"):
        return Path(override)
    if not BUILD_SCRIPT.is_file():
        raise RuntimeError(f"{BUILD_SCRIPT} not found; set TOOLMESH_KUBE_BIN to a folder with the binaries")
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=True)
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class LocalCluster:
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    workdir: Path
    bin_dir: Path
    controllers: str = "garbagecollector,horizontalpodautoscaling,namespace"
    #: Manifests (CRDs) applied before the controller manager starts: its garbage collector discovers
    #: new kinds only every 30 s, so kinds it should collect must exist when it starts.
    crds: Path | None = None
    api_port: int = field(default_factory=free_port)
    #: The address the API server listens on and advertises. Loopback alone; a node's host-side
    #: address when pods must reach it (then the ``kubernetes`` Service gets endpoints).
    address: str = "127.0.0.1"
    #: Serve aggregated APIs (metrics-server's metrics.k8s.io): a front-proxy CA, the client
    #: certificate the API server proxies with, and routing to the APIService's endpoints.
    aggregation: bool = False
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _etcd_port: int = field(default=0, init=False, repr=False)

    @property
    def server(self) -> str:
        return f"https://{self.address}:{self.api_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def audit_log(self) -> Path:
        """What service accounts did (Metadata level), one JSON event per line."""
        return self.workdir / "logs" / "audit.log"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "apiserver.crt"

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            check=check,
            input=input,
        )

    async def akubectl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """kubectl without blocking the event loop (an in-process operator must keep running)."""
        process = await asyncio.create_subprocess_exec(
            str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args,
            stdin=asyncio.subprocess.PIPE if input is not None else None,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate(input.encode() if input is not None else None)
        assert process.returncode is not None
        return subprocess.CompletedProcess(list(args), process.returncode, out.decode(), err.decode())

    def kubeconfig_for(self, name: str, *, token: str, namespace: str = "default") -> Path:
        """A kubeconfig that authenticates with ``token`` (e.g. a service account's), written beside the admin one."""
        path = self.workdir / f"{name}.kubeconfig"
        path.write_text(_kubeconfig(self.server, self.ca_file, token, namespace))
        return path

    def start(self, timeout: float = 120.0) -> LocalCluster:
        certs = self._prepare()
        self._etcd_port = self._start_etcd()
        self._start_api_server(certs, etcd_port=self._etcd_port)
        self.kubeconfig.write_text(_kubeconfig(self.server, None, ADMIN_TOKEN, "default"))
        self._wait_ready(timeout)
        # Now that the serving certificate exists, trust it instead of skipping verification.
        self.kubeconfig.write_text(_kubeconfig(self.server, self.ca_file, ADMIN_TOKEN, "default"))
        if self.crds is not None:
            self.kubectl("apply", "--server-side", "--field-manager=toolmesh-cluster", "-f", str(self.crds))
            self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        self._start_controller_manager(certs)
        return self

    def restart_api_server(self, down_for: float = 0.0, timeout: float = 120.0) -> float:
        """Stop the API server (SIGTERM, as a rolling control-plane upgrade does), keep it down
        ``down_for`` seconds, start it again on the same port and store; returns when it is ready,
        with the seconds from its start to ready. Clients see their watches break and requests fail."""
        (process,) = [
            p for p in self.processes if Path(str(cast(list[str], p.args)[0])).name == "kube-apiserver"
        ]
        stop_group(process, grace=30)
        self.processes.remove(process)
        time.sleep(down_for)
        started = time.monotonic()
        self._start_api_server(self.workdir / "certs", etcd_port=self._etcd_port)
        self._wait_ready(timeout)
        return time.monotonic() - started

    def _prepare(self) -> Path:
        """The work folder: logs, certificates and keys, the audit policy and the token file."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        certs = self.workdir / "certs"
        certs.mkdir(exist_ok=True)
        sa_key, sa_pub = certs / "sa.key", certs / "sa.pub"
        if not sa_key.exists():
            for command in (
                ["openssl", "genrsa", "-out", str(sa_key), "2048"],
                ["openssl", "rsa", "-in", str(sa_key), "-pubout", "-out", str(sa_pub)],
            ):
                subprocess.run(command, check=True, capture_output=True)
        # How the API server proves itself to a kubelet (logs, exec) and, with aggregation, to an
        # aggregated API server (the CN is what --requestheader-allowed-names admits).
        self._client_certificate(certs, "kubelet-client-ca", "kubelet-client",
                                 "/O=system:masters/CN=kube-apiserver-kubelet-client")  # fmt: skip
        if self.aggregation:
            self._client_certificate(certs, "front-proxy-ca", "front-proxy-client", "/CN=front-proxy-client")
        (self.workdir / "audit-policy.yaml").write_text(AUDIT_POLICY)
        (self.workdir / "tokens.csv").write_text(f'{ADMIN_TOKEN},admin,admin,"system:masters"\n')
        return certs

    def _start_etcd(self) -> int:
        etcd_port, peer_port = free_port(), free_port()
        self._spawn(
            "etcd",
            "--name=toolmesh",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=toolmesh=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync",
            "--quota-backend-bytes=4294967296",
            log=self.workdir / "logs" / "etcd.log",
        )
        return etcd_port

    def _start_api_server(self, certs: Path, etcd_port: int) -> None:
        self._spawn(
            "kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            f"--bind-address={self.address}",
            f"--advertise-address={self.address}",
            # No kubernetes Endpoints for a loopback address; a node's pods need them.
            f"--endpoint-reconciler-type={'none' if self.address == '127.0.0.1' else 'lease'}",
            "--kubelet-preferred-address-types=InternalIP",  # never the node's name in outside DNS
            # How it proves itself to a kubelet (logs, exec): a client certificate of system:masters.
            f"--kubelet-client-certificate={certs / 'kubelet-client.crt'}",
            f"--kubelet-client-key={certs / 'kubelet-client.key'}",
            f"--secure-port={self.api_port}",
            f"--cert-dir={certs}",
            f"--token-auth-file={self.workdir / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={certs / 'sa.pub'}",
            f"--service-account-signing-key-file={certs / 'sa.key'}",
            "--api-audiences=https://kubernetes.default.svc.cluster.local",
            "--enable-priority-and-fairness=false",
            f"--audit-policy-file={self.workdir / 'audit-policy.yaml'}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            "--max-mutating-requests-inflight=1000",
            "--max-requests-inflight=2000",
            *(self._aggregation_flags(certs) if self.aggregation else ()),
            log=self.workdir / "logs" / "kube-apiserver.log",
        )

    @staticmethod
    def _aggregation_flags(certs: Path) -> tuple[str, ...]:
        """The aggregation layer: the API server proxies to an APIService's server with a client
        certificate of the front-proxy CA and the caller in X-Remote-* headers; the server trusts
        them through the CA the API server publishes in kube-system/extension-apiserver-authentication.
        Routing goes to the Service's endpoints (pod IPs, routed from the host to the node) rather
        than its cluster IP, as on clusters whose control plane runs no kube-proxy."""
        return (
            f"--requestheader-client-ca-file={certs / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={certs / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={certs / 'front-proxy-client.key'}",
            "--enable-aggregator-routing=true",
        )

    def _start_controller_manager(self, certs: Path) -> None:
        self._spawn(
            "kube-controller-manager",
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            f"--controllers={self.controllers}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            f"--service-account-private-key-file={certs / 'sa.key'}",
            f"--root-ca-file={self.ca_file}",  # else kube-root-ca.crt is empty and in-pod TLS fails
            "--horizontal-pod-autoscaler-sync-period=5s",
            # An HPA without its own behavior scales in after this window (default 5 m): a test sees
            # a scale-in within a minute. The chart's gateway HPA can set its own window.
            f"--horizontal-pod-autoscaler-downscale-stabilization={DOWNSCALE_STABILIZATION}",
            log=self.workdir / "logs" / "kube-controller-manager.log",
        )

    @property
    def kubelet_client_ca(self) -> Path:
        """The CA a kubelet trusts for client certificates (the API server's for logs and exec)."""
        return self.workdir / "certs" / "kubelet-client-ca.crt"

    @staticmethod
    def _client_certificate(certs: Path, ca_name: str, name: str, subject: str) -> None:
        """A CA ``ca_name`` and a client certificate ``name`` it signs, made once per work folder."""
        if (certs / f"{name}.crt").exists():
            return
        ca_key, ca, key, csr = (certs / f"{ca_name}.key", certs / f"{ca_name}.crt",
                                certs / f"{name}.key", certs / f"{name}.csr")  # fmt: skip
        for command in (
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
             "-days", "30", "-subj", f"/CN=toolmesh-{ca_name}"],
            ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
             "-subj", subject],
            ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-out", str(certs / f"{name}.crt"), "-days", "30"],
        ):  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)

    def _spawn(self, name: str, *args: str, log: Path) -> None:
        handle = log.open("ab")
        process = subprocess.Popen(
            [str(self.bin_dir / name), *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        self.processes.append(process)

    def _wait_ready(self, timeout: float) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        request = urllib.request.Request(
            f"{self.server}/readyz", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{Path(str(cast(list[str], process.args)[0])).name} exited with {process.returncode}; logs in {self.workdir / 'logs'}"
                    )
            try:
                with urllib.request.urlopen(request, context=context, timeout=5) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:  # up, not ready yet (its body holds the socket)
                last = f"HTTP {exc.code}"
                exc.close()
            except OSError as exc:  # not listening yet
                last = str(exc)
            time.sleep(0.2)
        raise RuntimeError(
            f"kube-apiserver not ready after {timeout:.0f} s ({last}); logs in {self.workdir / 'logs'}"
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=3)  # a throwaway control plane: no long graceful shutdown
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
"""


def _kubeconfig(server: str, ca_file: Path | None, token: str, namespace: str) -> str:
    cluster = f"certificate-authority: {ca_file}" if ca_file else "insecure-skip-tls-verify: true"
    return f"""apiVersion: v1
kind: Config
clusters:
- name: toolmesh
  cluster:
    server: {server}
    {cluster}
users:
- name: user
  user:
    token: {token}
contexts:
- name: toolmesh
  context: {{cluster: toolmesh, user: user, namespace: {namespace}}}
current-context: toolmesh
"""


def main() -> int:
    """``make cluster``: start a cluster in a temporary folder until interrupted."""
    workdir = Path(tempfile.mkdtemp(prefix="toolmesh-cluster-"))
    cluster = LocalCluster(workdir=workdir, bin_dir=binaries(), crds=REPO / "crds")
    try:
        cluster.start()
        print(f"Kubernetes API server at {cluster.server}", flush=True)
        print(f"export KUBECONFIG={cluster.kubeconfig}", flush=True)
        print(f"kubectl: {cluster.bin_dir / 'kubectl'}   (Ctrl-C stops the cluster)", flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
