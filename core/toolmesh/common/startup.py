"""What a command prints when it cannot start: one line naming the setting or the port, no traceback.

Shared by ``toolmesh gateway``, ``toolmesh dev`` and ``toolmesh category serve``.
"""

from __future__ import annotations

import socket
import sys

from pydantic import ValidationError
from pydantic_settings import SettingsError

from toolmesh.common.tracing import TracingSettingsError

#: What reading the settings raises when the environment is wrong (never a bug).
SETTINGS_ERRORS: tuple[type[Exception], ...] = (ValidationError, SettingsError, TracingSettingsError)


def one_line(error: Exception, env_prefix: str = "TOOLMESH_") -> str:
    """A configuration error as one line that names each setting (``<env_prefix><FIELD>``)."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{env_prefix}{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()
        )
    return " ".join(str(error).split())


def listen(host: str, port: int, command: str) -> socket.socket | None:
    """The listening socket, bound before anything is loaded or printed; None (and one line) if busy."""
    try:
        return socket.create_server((host, port))
    except OSError as exc:
        print(
            f"toolmesh {command}: cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(is another server running there? choose another with --port)",
            file=sys.stderr,
        )
        return None
