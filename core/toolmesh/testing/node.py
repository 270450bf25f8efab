"""A real node for the test cluster: containerd, CNI, kubelet, kube-proxy, scheduler and CoreDNS.

:func:`node_cluster` starts a :class:`~toolmesh.testing.cluster.LocalCluster` whose API server
listens on the host end of a network this module makes, and a :class:`LocalNode` beside it, so
the project's images run as real pods started by a real kubelet (the recipe, and why each setting
is what it is: ../shared/notes/real-node.md and docs/operations/test-cluster.md).

Isolation, so nothing outside the machine is reachable and teardown leaves nothing behind:

- The node lives in a network namespace of its own (``tm-node``), joined to the host by one veth
  pair (host 10.250.0.1, node 10.250.0.2). Its pods are on a bridge inside that namespace
  (10.244.0.0/24, ``ipMasq: false``), kube-proxy's iptables rules are that namespace's, and the
  namespace has no default route: a pod reaches the API server and other pods, nothing else.
  The host routes the pod and Service ranges to the node, so tests call Services directly.
- containerd, the kubelet and kube-proxy run in that network namespace (``nsenter --net``) but in
  the host's mount namespace, with every path (containerd's root and state, the kubelet's root,
  pod logs, CNI state) under the node's work folder, and pod cgroups under one root of its own.
- :meth:`LocalNode.stop` kills every container through containerd, stops the daemons, kills
  anything left in the node's cgroups, unmounts everything under the work folder and every pod
  network namespace made since start, removes the cgroups and deletes the network namespace.
  :meth:`LocalNode.leftovers` lists whatever would remain (the tests assert it is empty).

Needs root, Debian's containerd, runc, CNI plugins, iptables and docker.io
(``hack/node-deps.sh``), and the binaries of ``hack/node-binaries.sh``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from toolmesh.testing import metrics_server
from toolmesh.testing.cluster import REPO, LocalCluster, binaries, stop_group
from toolmesh.testing.node_config import (
    CONTAINERD_CONFIG,
    COREDNS_MANIFEST,
    KUBE_PROXY_CONFIG,
    KUBELET_CONFIG,
)
from toolmesh.testing.node_network import NodeNetwork, run
from toolmesh.testing.node_traces import Traces

NODE_BUILD_SCRIPT = REPO / "hack" / "node-binaries.sh"
DOCKER = os.environ.get("TOOLMESH_DOCKER", "/usr/bin/docker")
CTR = shutil.which("ctr") or "/usr/bin/ctr"
PAUSE_IMAGE = "local/pause:toolmesh-1"
COREDNS_IMAGE = "local/coredns:1.14.7"
NODE_NAME = "toolmesh-node"


def node_binaries() -> Path:
    """The folder holding kubelet, kube-proxy, kube-scheduler, coredns and pause (built once, cached)."""
    if override := os.environ.get("TOOLMESH_NODE_BIN"):
        return Path(override)
    result = subprocess.run(["bash", str(NODE_BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=True)
    return Path(result.stdout.strip().splitlines()[-1])


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run a node (empty when it can); each entry says how to get it."""
    problems = []
    if os.geteuid() != 0:
        problems.append("root (network namespaces, mounts, cgroups)")
    for tool in ("containerd", "runc", "nsenter", "iptables", "ip"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} (hack/node-deps.sh)")
    if not Path("/usr/lib/cni/bridge").exists():
        problems.append("CNI plugins in /usr/lib/cni (hack/node-deps.sh)")
    if subprocess.run([DOCKER, "version"], capture_output=True).returncode != 0:
        problems.append(f"a running Docker engine for {DOCKER} (hack/node-deps.sh starts dockerd)")
    return problems


@dataclass
class LocalNode:
    cluster: LocalCluster
    workdir: Path
    bin_dir: Path
    network: NodeNetwork = field(default_factory=NodeNetwork)
    name: str = NODE_NAME
    #: metrics-server's binary: when set, it runs as a pod (the cluster needs ``aggregation``).
    metrics_server: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _netns_before: set[str] = field(default_factory=set)

    @property
    def socket(self) -> Path:
        return self.workdir / "containerd.sock"

    @property
    def cgroup_root(self) -> str:
        return f"/{self.network.netns}"

    @property
    def traces(self) -> Traces:
        """What this node leaves on the machine until :meth:`stop` removes it."""
        return Traces(self.workdir, self.socket, self.cgroup_root, self._netns_before)

    # -- start --------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> LocalNode:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self._netns_before = set(os.listdir("/run/netns")) if Path("/run/netns").is_dir() else set()
        try:
            self._start_containerd(timeout)
            self.load_images(self._system_images(), build=self._build_system_images)
            self._make_cgroups()
            self._start_kubelet()
            self._start_kube_proxy()
            self._start_scheduler()
            self.wait_node_ready(timeout)
            self._start_coredns(timeout)
            if self.metrics_server is not None:  # serving a minute later: metrics_server.wait_serving
                metrics_server.deploy(self.cluster)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, *args: str, netns: bool = True) -> None:
        handle = (self.workdir / "logs" / f"{name}.log").open("ab")
        prefix = ["nsenter", f"--net=/run/netns/{self.network.netns}", "--"] if netns else []
        self.processes[name] = subprocess.Popen(
            [*prefix, *args], stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()

    def _wait(self, what: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {process.returncode} while waiting for {what}; "
                        f"logs in {self.workdir / 'logs'}"
                    )
            if check():
                return
            time.sleep(0.25)
        raise RuntimeError(f"{what} not ready after {timeout:.0f} s; logs in {self.workdir / 'logs'}")

    def _start_containerd(self, timeout: float) -> None:
        cni_conf = self.workdir / "cni" / "net.d"
        cni_conf.mkdir(parents=True, exist_ok=True)
        (cni_conf / "10-toolmesh.conflist").write_text(json.dumps(self._cni_config(), indent=2))
        config = self.workdir / "containerd.toml"
        config.write_text(CONTAINERD_CONFIG.format(
            root=self.workdir / "containerd" / "root",
            state=self.workdir / "containerd" / "state",
            socket=self.socket,
            pause=PAUSE_IMAGE,
            cni_conf=cni_conf,
        ))  # fmt: skip
        self._spawn("containerd", "containerd", "--config", str(config))
        self._wait("containerd", lambda: self._ctr("version", check=False).returncode == 0, timeout)

    def _cni_config(self) -> dict[str, object]:
        return {
            "cniVersion": "0.4.0",
            "name": "toolmesh",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.network.bridge,
                    "isGateway": True,
                    "ipMasq": False,  # pods reach nothing outside the machine
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.network.pod_cidr}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.workdir / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }

    def _ctr(
        self, *args: str, check: bool = True, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return run(
            CTR, "--address", str(self.socket), "--namespace", "k8s.io", *args, check=check, input=input
        )

    def _system_images(self) -> list[str]:
        return [PAUSE_IMAGE, COREDNS_IMAGE, *([metrics_server.IMAGE] if self.metrics_server else [])]

    def _build_system_images(self, missing: Sequence[str]) -> None:
        """The pause, CoreDNS and metrics-server images: one static binary each, imported into
        Docker (no registry)."""
        binaries = {PAUSE_IMAGE: self.bin_dir / "pause", COREDNS_IMAGE: self.bin_dir / "coredns"}
        if self.metrics_server is not None:
            binaries[metrics_server.IMAGE] = self.metrics_server
        for image, path in binaries.items():
            if image not in missing:
                continue
            binary, entrypoint = path.name, [f"/{path.name}"]
            with tempfile.TemporaryDirectory() as root:
                shutil.copy2(path, Path(root) / binary)
                tar = subprocess.run(["tar", "-C", root, "-c", "."], capture_output=True, check=True).stdout
                run(
                    DOCKER,
                    "import",
                    "--change",
                    f"ENTRYPOINT {json.dumps(entrypoint)}",
                    "-",
                    image,
                    input=tar,
                )

    def load_images(
        self, images: Sequence[str], build: Callable[[Sequence[str]], None] | None = None
    ) -> None:
        """Copy images from Docker into the node's containerd (pods use ``imagePullPolicy: Never``)."""
        missing = [i for i in images if run(DOCKER, "image", "inspect", i, check=False).returncode != 0]
        if missing and build is not None:
            build(missing)
        save = subprocess.Popen([DOCKER, "save", *images], stdout=subprocess.PIPE)
        assert save.stdout is not None
        try:
            imported = subprocess.run(
                [
                    CTR,
                    "--address",
                    str(self.socket),
                    "--namespace",
                    "k8s.io",
                    "images",
                    "import",
                    "-",
                ],
                stdin=save.stdout,
                capture_output=True,
            )
        finally:
            save.stdout.close()
            save.wait()
        if save.returncode != 0 or imported.returncode != 0:
            raise RuntimeError(f"importing {images} into the node failed: {imported.stderr.decode()[-500:]}")

    def _make_cgroups(self) -> None:
        """The pods' cgroup root, in every hierarchy (the kubelet requires it to exist)."""
        base = Path("/sys/fs/cgroup")
        if (base / "cgroup.controllers").exists():  # cgroup v2: one hierarchy
            (base / self.cgroup_root.lstrip("/")).mkdir(exist_ok=True)
            return
        for hierarchy in base.iterdir():
            if hierarchy.is_symlink() or not hierarchy.is_dir():
                continue
            root = hierarchy / self.cgroup_root.lstrip("/")
            root.mkdir(exist_ok=True)
            for name in ("cpuset.cpus", "cpuset.mems"):  # a v1 cpuset starts empty: no task may join
                if (root / name).exists() and not (root / name).read_text().strip():
                    (root / name).write_text((hierarchy / name).read_text())

    def _start_kubelet(self) -> None:
        root = self.workdir / "kubelet"
        root.mkdir(exist_ok=True)
        resolv = self.workdir / "resolv.conf"
        resolv.write_text("")  # pods with dnsPolicy Default resolve nothing outside the cluster
        config = self.workdir / "kubelet.yaml"
        config.write_text(KUBELET_CONFIG.format(
            address=self.network.node_ip,
            socket=self.socket,
            cgroup_root=self.cgroup_root,
            dns=self.network.dns_ip,
            resolv=resolv,
            logs=self.workdir / "pod-logs",
            plugins=self.workdir / "volume-plugins",
            client_ca=self.cluster.kubelet_client_ca,
        ))  # fmt: skip
        self._spawn(
            "kubelet",
            str(self.bin_dir / "kubelet"),
            f"--config={config}",
            f"--kubeconfig={self.cluster.kubeconfig}",
            f"--root-dir={root}",
            f"--cert-dir={root / 'pki'}",
            f"--node-ip={self.network.node_ip}",
            f"--hostname-override={self.name}",
        )

    def _start_kube_proxy(self) -> None:
        config = self.workdir / "kube-proxy.yaml"
        config.write_text(KUBE_PROXY_CONFIG.format(
            kubeconfig=self.cluster.kubeconfig,
            pod_cidr=self.network.pod_cidr,
            node_ip=self.network.node_ip,
            name=self.name,
        ))  # fmt: skip
        self._spawn("kube-proxy", str(self.bin_dir / "kube-proxy"), f"--config={config}")

    def _start_scheduler(self) -> None:
        self._spawn(
            "kube-scheduler",
            str(self.bin_dir / "kube-scheduler"),
            f"--kubeconfig={self.cluster.kubeconfig}",
            "--leader-elect=false",
            "--secure-port=0",
            netns=False,
        )

    def wait_node_ready(self, timeout: float) -> None:
        def ready() -> bool:
            out = self.cluster.kubectl(
                "get", "node", self.name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
                check=False,
            )  # fmt: skip
            return out.stdout.strip() == "True"

        self._wait(f"node {self.name}", ready, timeout)

    def _kube_proxy_routes_the_api_server(self) -> bool:
        rules = run("ip", "netns", "exec", self.network.netns, "iptables-save", "-t", "nat", check=False)
        text = rules.stdout.decode()
        return "default/kubernetes:https" in text and "-j KUBE-SEP-" in text

    def _start_coredns(self, timeout: float) -> None:
        # A pod that calls the API server before kube-proxy routes its Service once stayed unsynced
        # for minutes (CoreDNS); start it only once the route exists.
        self._wait("kube-proxy's route to the API server", self._kube_proxy_routes_the_api_server, timeout)
        manifest = COREDNS_MANIFEST.format(image=COREDNS_IMAGE, dns_ip=self.network.dns_ip)
        self.cluster.kubectl(
            "apply", "--server-side", "--field-manager=toolmesh-node", "-f", "-", input=manifest
        )
        rollout = self.cluster.kubectl(
            "-n", "kube-system", "rollout", "status", "deployment/coredns", f"--timeout={int(timeout)}s",
            check=False,
        )  # fmt: skip
        if rollout.returncode != 0:
            pods = self.cluster.kubectl("-n", "kube-system", "describe", "pods", check=False).stdout
            rules = run("ip", "netns", "exec", self.network.netns, "iptables-save", "-t", "nat", check=False)
            slices = self.cluster.kubectl("get", "endpointslices", "-A", check=False).stdout
            raise RuntimeError(
                f"CoreDNS did not start: {rollout.stderr.strip()}\n{pods[-3000:]}\n{slices}\n"
                f"{rules.stdout.decode()[-4000:]}"
            )

    def pod_usage(self) -> dict[str, tuple[float, float]]:
        """Per pod UID: (memory working set in MiB, as the kubelet counts it, and CPU seconds used
        so far), read from the pods' cgroups (cgroup v1, as on these machines)."""
        memory = Path("/sys/fs/cgroup/memory") / self.cgroup_root.lstrip("/") / "kubepods"
        cpu = Path("/sys/fs/cgroup/cpuacct") / self.cgroup_root.lstrip("/") / "kubepods"
        usage: dict[str, tuple[float, float]] = {}
        for pod in memory.rglob("pod*"):
            if not (pod / "memory.usage_in_bytes").exists():
                continue
            stats = dict(line.split() for line in (pod / "memory.stat").read_text().splitlines())
            working = int((pod / "memory.usage_in_bytes").read_text()) - int(
                stats.get("total_inactive_file", 0)
            )
            cpu_file = cpu / pod.relative_to(memory) / "cpuacct.usage"
            seconds = int(cpu_file.read_text()) / 1e9 if cpu_file.exists() else 0.0
            usage[pod.name.removeprefix("pod")] = (working / 2**20, seconds)
        return usage

    def container_pid(self, container_id: str) -> int:
        """The host PID of a container's main process."""
        wanted = container_id.removeprefix("containerd://")
        for line in self._ctr("tasks", "ls").stdout.decode().splitlines()[1:]:
            task, pid, *_ = line.split()
            if task == wanted:
                return int(pid)
        raise LookupError(f"no running task {wanted}")

    def kill_container(self, container_id: str) -> None:
        """SIGKILL a container's processes, as a crash would (the kubelet restarts it)."""
        self._ctr("tasks", "kill", "--all", "--signal", "SIGKILL", container_id.removeprefix("containerd://"))

    # -- stop ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop everything and remove every trace (see :meth:`leftovers`)."""
        for name in ("kube-scheduler", "kubelet", "kube-proxy"):
            self._terminate(name)
        if "containerd" in self.processes and self.processes["containerd"].poll() is None:
            self._remove_containers()
        self._terminate("containerd")
        self.traces.kill_cgroup_processes()
        self.traces.kill_shims()
        self.traces.unmount()
        self.traces.remove_cgroups()
        self.network.down()
        self.processes.clear()

    def _terminate(self, name: str) -> None:
        process = self.processes.get(name)
        if process is not None:
            stop_group(process, grace=10)

    def _remove_containers(self) -> None:
        tasks = self._ctr("tasks", "ls", "-q", check=False).stdout.decode().split()
        for task in tasks:
            self._ctr("tasks", "kill", "--all", "--signal", "SIGKILL", task, check=False)
        deadline = time.monotonic() + 15
        while tasks and time.monotonic() < deadline:
            for task in tasks:
                self._ctr("tasks", "delete", "--force", task, check=False)
            tasks = self._ctr("tasks", "ls", "-q", check=False).stdout.decode().split()
            if tasks:
                time.sleep(0.2)
        for container in self._ctr("containers", "ls", "-q", check=False).stdout.decode().split():
            self._ctr("containers", "delete", container, check=False)

    def leftovers(self) -> list[str]:
        """What of this node remains on the machine: processes, mounts, netns, links, cgroups."""
        found = [f"process {name}" for name, p in self.processes.items() if p.poll() is None]
        found += [f"containerd shim pid {pid}" for pid in self.traces.shims()]
        found += [f"mount {m}" for m in self.traces.mounts()]
        found += [f"network namespace {n}" for n in self.traces.new_netns()]
        if self.network.exists():
            found.append(f"network namespace {self.network.netns}")
        if run("ip", "link", "show", self.network.host_link, check=False).returncode == 0:
            found.append(f"link {self.network.host_link}")
        found += [f"cgroup {d}" for d in self.traces.cgroup_dirs() if d.exists()]
        return found


@contextlib.contextmanager
def node_cluster(
    workdir: Path, *, crds: Path | None = None, timeout: float = 180.0, metrics: bool = True
) -> Iterator[tuple[LocalCluster, LocalNode]]:
    """A control plane with every controller and one real node; everything removed on exit.

    With ``metrics`` (the default) the API server serves aggregated APIs and metrics-server runs on
    the node, so HPAs scale on CPU and ``kubectl top`` answers."""
    problems = missing_prerequisites()
    if problems:
        raise RuntimeError("a real node needs: " + "; ".join(problems))
    network = NodeNetwork()
    node_bin = node_binaries()
    metrics_bin = metrics_server.binary() if metrics else None
    network.up()
    cluster = LocalCluster(
        workdir=workdir / "control-plane",
        bin_dir=binaries(),
        controllers="*",
        crds=crds,
        address=network.host_ip,
        aggregation=metrics,
    )
    node = LocalNode(
        cluster=cluster,
        workdir=workdir / "node",
        bin_dir=node_bin,
        network=network,
        metrics_server=metrics_bin,
    )
    try:
        cluster.start()
        node.start(timeout)
        yield cluster, node
    finally:
        node.stop()  # deletes the node's network too
        cluster.stop()


def main() -> int:
    """``make cluster NODE=1``: a cluster with a real node in a temporary folder until interrupted."""
    import sys

    workdir = Path(tempfile.mkdtemp(prefix="toolmesh-node-cluster-"))
    images = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    try:
        with node_cluster(workdir) as (cluster, node):
            if images:
                node.load_images(images)
            print(f"Kubernetes API server at {cluster.server}, node {node.name} Ready", flush=True)
            print(f"export KUBECONFIG={cluster.kubeconfig}", flush=True)
            print(
                f"kubectl: {cluster.bin_dir / 'kubectl'}   (Ctrl-C stops the cluster and removes the node)",
                flush=True,
            )
            print(f"Services ({node.network.service_cidr}) and pods ({node.network.pod_cidr}) are routed from this host; "
                  f"load images with: docker save IMAGE | ctr --address {node.socket} -n k8s.io images import -", flush=True)  # fmt: skip
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
