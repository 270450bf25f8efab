"""A federated server's log messages (``notifications/message``), in the category server's log.

MCP servers log to their client. The category server is that client for the servers it federates,
and it does not relay their messages to agents (the logging capability is deprecated as of
2026-07-28, SEP-2577; docs/design/0018), so without this they were dropped and an admin chasing a
federated tool's failure saw nothing of what the server said. Each message becomes one line of the
category server's log (event ``federated.log``), at the message's level, naming the integration.

A 2025 server sends its messages to the session whatever the client asks (``logging/setLevel`` is
never sent, so all of them); a 2026-07-28 server sends them only for requests that opt in, at a
level: the client opts in on every request at the level the category server itself logs at, so a
server's debug lines cost nothing unless the category server is at DEBUG.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import structlog
from mcp import types

_log = structlog.get_logger(__name__)

#: MCP's levels (RFC 5424) as the standard library's.
LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}
#: Most characters of one message's data kept in the log line (a server may log whole documents).
MAX_DATA_CHARS = 2000


def opt_in_level(python_level: int) -> types.LoggingLevel:
    """The MCP level whose messages and above a category server logging at ``python_level`` keeps."""
    if python_level <= logging.DEBUG:
        return "debug"
    if python_level <= logging.INFO:
        return "info"
    if python_level <= logging.WARNING:
        return "warning"
    if python_level <= logging.ERROR:
        return "error"
    return "critical"


def shown(data: Any) -> Any:
    """A message's data as the log line carries it: as it is when short, else its JSON cut short."""
    if isinstance(data, str):
        text = data
    elif data is None or isinstance(data, bool | int | float):
        return data
    else:
        text = json.dumps(data, default=str, ensure_ascii=False)
        if len(text) <= MAX_DATA_CHARS:
            return data
    if len(text) <= MAX_DATA_CHARS:
        return text
    return f"{text[:MAX_DATA_CHARS]}... ({len(text) - MAX_DATA_CHARS} more characters)"


def client_options(integration: str) -> dict[str, Any]:
    """The SDK client's options for one federated server: its messages logged under ``integration``,
    and the 2026-07-28 opt-in at the category server's own level."""

    async def logged(params: types.LoggingMessageNotificationParams) -> None:
        _log.log(
            LEVELS.get(params.level, logging.INFO),
            "federated.log",
            integration=integration,
            server_level=params.level,
            server_logger=params.logger,
            data=shown(params.data),
        )

    level = opt_in_level(logging.getLogger(__name__).getEffectiveLevel())
    return {"logging_callback": logged, "log_level": level}
