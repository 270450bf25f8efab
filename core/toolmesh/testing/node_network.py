"""The test node's network: a namespace of its own, one veth pair to the host, routes to its ranges.

Nothing but the host's end is reachable from the node (no default route in the namespace); deleting
the namespace removes the veth pair, the host's routes, the pod bridge and every iptables rule made
inside it. :mod:`toolmesh.testing.node` runs the node's daemons in it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


def run(*args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(args), capture_output=True, check=check, input=input)


@dataclass(frozen=True)
class NodeNetwork:
    """The node's network namespace, its veth to the host, and the ranges routed to it."""

    netns: str = "tm-node"
    host_ip: str = "10.250.0.1"
    node_ip: str = "10.250.0.2"
    pod_cidr: str = "10.244.0.0/24"
    service_cidr: str = "10.96.0.0/16"
    bridge: str = "tmcni0"

    @property
    def host_link(self) -> str:
        return f"{self.netns}-h"[:15]

    @property
    def dns_ip(self) -> str:
        return self.service_cidr.rsplit(".", 2)[0] + ".0.10"

    def exists(self) -> bool:
        return Path("/run/netns", self.netns).exists()

    def up(self) -> None:
        if self.exists():  # a run that was killed before its teardown
            self.down()
        ns = ("ip", "netns", "exec", self.netns)
        run("ip", "netns", "add", self.netns)
        try:
            run(
                "ip",
                "link",
                "add",
                self.host_link,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                self.netns,
            )
            run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_link)
            run("ip", "link", "set", self.host_link, "up")
            run(*ns, "ip", "link", "set", "lo", "up")
            run(*ns, "ip", "addr", "add", f"{self.node_ip}/30", "dev", "eth0")
            run(*ns, "ip", "link", "set", "eth0", "up")
            # No default route in the node: pods reach the host's end and each other, nothing else.
            for cidr in (self.pod_cidr, self.service_cidr):
                run("ip", "route", "add", cidr, "via", self.node_ip, "dev", self.host_link)
            run(*ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            # Pod -> Service -> pod on the same bridge needs bridged traffic to pass iptables.
            run(*ns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", check=False)
        except BaseException:
            self.down()
            raise

    def down(self) -> None:
        # Deleting the namespace deletes the veth pair (and with it the host's routes), the pod
        # bridge and every iptables rule kube-proxy and the CNI plugins wrote.
        run("ip", "netns", "del", self.netns, check=False)
        run("ip", "link", "del", self.host_link, check=False)
