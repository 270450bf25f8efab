"""structlog, configured once per process and bridged to the standard library.

kopf, aiohttp and the MCP SDK log through ``logging``; structlog's ``ProcessorFormatter`` renders
their records and ours the same way: JSON lines in production, a console format in development.
Event names are constants of each component; context travels as key-values.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["json", "console"]


def configure(level: str = "INFO", fmt: LogFormat = "json") -> None:
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
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
