"""What a test node leaves on the machine, found and removed: the teardown half of
:class:`toolmesh.testing.node.LocalNode` (its :meth:`~toolmesh.testing.node.LocalNode.stop` and
:meth:`~toolmesh.testing.node.LocalNode.leftovers`).

A node's traces are the processes in its cgroups, containerd's shims (their command line names the
node's containerd socket), mounts under its work folder, the pod network namespaces made since it
started, and its cgroups.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator, Set
from dataclasses import dataclass
from pathlib import Path

from toolmesh.testing.node_network import run


@dataclass(frozen=True)
class Traces:
    workdir: Path
    #: containerd's socket: each of its shims carries it on its command line.
    socket: Path
    #: The node's cgroup root, e.g. ``/tm-node``.
    cgroup_root: str
    #: The network namespaces that existed before the node started (not its own).
    netns_before: Set[str]

    def cgroup_dirs(self) -> Iterator[Path]:
        base = Path("/sys/fs/cgroup")
        if (base / "cgroup.controllers").exists():  # cgroup v2: one hierarchy
            yield base / self.cgroup_root.lstrip("/")
            return
        for hierarchy in base.iterdir():
            candidate = hierarchy / self.cgroup_root.lstrip("/")
            if not hierarchy.is_symlink() and candidate.is_dir():
                yield candidate

    def kill_cgroup_processes(self) -> None:
        for _ in range(20):
            pids = {
                int(pid)
                for root in self.cgroup_dirs()
                for procs in root.rglob("cgroup.procs")
                for pid in procs.read_text().split()
            }
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)

    def shims(self) -> list[int]:
        needle = str(self.socket).encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if needle in (entry / "cmdline").read_bytes():
                        found.append(int(entry.name))
        return found

    def kill_shims(self) -> None:
        for pid in self.shims():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def mounts(self) -> list[str]:
        prefixes = (str(self.workdir) + "/", *(f"/run/netns/{n}" for n in self.new_netns()))
        mounts = []
        for line in Path("/proc/self/mounts").read_text().splitlines():
            target = line.split()[1].replace("\\040", " ")
            if target.startswith(prefixes) or target in prefixes:
                mounts.append(target)
        return mounts

    def new_netns(self) -> list[str]:
        if not Path("/run/netns").is_dir():
            return []
        return [n for n in os.listdir("/run/netns") if n.startswith("cni-") and n not in self.netns_before]

    def unmount(self) -> None:
        for _ in range(5):
            mounts = self.mounts()
            if not mounts:
                break
            for target in sorted(mounts, key=len, reverse=True):  # deepest first
                run("umount", "--lazy", target, check=False)
        for name in self.new_netns():
            with contextlib.suppress(OSError):
                Path("/run/netns", name).unlink()

    def remove_cgroups(self) -> None:
        for root in self.cgroup_dirs():
            for directory in sorted(
                (p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
            ):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            with contextlib.suppress(OSError):
                root.rmdir()
