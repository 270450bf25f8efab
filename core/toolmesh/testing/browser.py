"""A real headless browser for tests and the console's screenshots: Debian's chromium
(``apt-get install chromium``, hack/test-deps.sh) driven by Playwright for Python, whose wheel
carries its driver. Playwright's own browser download is never used (its host is not reachable
from CI), so the browser is launched from its path with flags that keep it off the network.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
#: Longest a page load or an action may take (a wait on a condition, never a sleep).
TIMEOUT_MS = 10_000


def chromium() -> Path | None:
    """Debian's chromium, if it is installed."""
    return CHROMIUM if CHROMIUM.exists() else (Path(p) if (p := shutil.which("chromium")) else None)


@asynccontextmanager
async def launched() -> AsyncIterator[Browser]:
    """A headless chromium for the time of the block (closed, with Playwright's driver, after it)."""
    from playwright.async_api import async_playwright

    path = chromium()
    if path is None:
        raise FileNotFoundError("chromium is not installed: apt-get install chromium (hack/test-deps.sh)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(path), args=list(ARGS), timeout=30_000)
        try:
            yield browser
        finally:
            await browser.close()
