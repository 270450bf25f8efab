"""Background tasks that say at once when they end on an exception (never "Task exception was
never retrieved" at interpreter exit, long after the fact)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine
from typing import Any

import structlog


def background(
    coroutine: Coroutine[Any, Any, None], name: str, log: structlog.stdlib.BoundLogger, event: str
) -> asyncio.Task[None]:
    """``coroutine`` as a task named ``name``; should it end on an exception, ``event`` is logged
    with it on ``log`` (expected errors are handled inside: this is for bugs)."""
    task = asyncio.create_task(coroutine, name=name)
    task.add_done_callback(functools.partial(_log_failure, log, event))
    return task


def _log_failure(log: structlog.stdlib.BoundLogger, event: str, task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error(event, task=task.get_name(), exc_info=exc)
