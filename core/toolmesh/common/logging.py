"""structlog, configured once per process and bridged to the standard library.

kopf, aiohttp and the MCP SDK log through ``logging``; structlog's ``ProcessorFormatter`` renders
their records and ours the same way: JSON lines in production, a console format in development
(``auto``: console on a terminal, JSON otherwise). Event names are constants of each component;
context travels as key-values.

Tracebacks never show frame locals, in either format: a frame's locals hold credentials (a
Secret's values, a caller's key). structlog's console renderer shows them when ``rich`` or
``better-exceptions`` is installed, so the plain formatter is named explicitly.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

LogFormat = Literal["auto", "json", "console"]


def resolve(fmt: LogFormat, stream: TextIO) -> Literal["json", "console"]:
    """``auto``: console for a person at a terminal, JSON lines for everything else (a pod, a file)."""
    if fmt == "auto":
        return "console" if stream.isatty() else "json"
    return fmt


def configure(level: str = "INFO", fmt: LogFormat = "json") -> None:
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    rendering: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if resolve(fmt, sys.stderr) == "json"
        else [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]
    )
    structlog.configure(
        # A line below the level is dropped before anything is rendered (without it, every
        # forwarded call's line was timestamped and then dropped at WARNING: docs/design/0014).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()


#: Loggers kept at WARNING: one line per request (metrics cover that), URLs with their query strings.
NOISY = ("aiohttp.access", "httpx2", "httpx")
#: Loggers never below INFO, whatever the level: the MCP SDK logs whole JSON-RPC messages at DEBUG,
#: and a forwarded call's message carries the caller's credentials for that call (docs/design/security.md).
CARRY_SECRETS = ("mcp",)


def quiet_libraries() -> None:
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in CARRY_SECRETS:
        logging.getLogger(name).setLevel(logging.INFO)
