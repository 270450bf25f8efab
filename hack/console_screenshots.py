"""Screenshots of each console page for docs/operations/console/, taken in the browser the tests use
(toolmesh.testing.browser: Debian's chromium driven by Playwright).

It serves `make dev`'s local stack in process: the demo Tasks API (examples/local/tasks_demo_api.py)
and a gateway over examples/local's catalogue, plus a federated remote that does not answer (a
failing integration) and a second, empty category; makes a few calls through the SDK client; then
photographs the catalogue, one integration, a search, the categories and the recent calls.

    HF_HUB_OFFLINE=1 .venv/bin/python hack/console_screenshots.py [--out docs/operations/console]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import socket
import sys
import tempfile
import textwrap
from pathlib import Path

from mcp import Client

from toolmesh.gateway.app import create_app
from toolmesh.gateway.settings import GatewaySettings
from toolmesh.testing import browser as chromium
from toolmesh.testing.http import serving

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "examples" / "local"
EXTRA = """
apiVersion: toolmesh.dev/v1alpha1
kind: MCPIntegration
metadata: {name: calculator}
spec:
  category: pm
  toolPrefix: calc
  mcp: {url: "http://127.0.0.1:%d/mcp"}
---
apiVersion: toolmesh.dev/v1alpha1
kind: MCPCategory
metadata: {name: crm}
spec: {description: "Customers, contacts and deals."}
"""
CALLS = [
    ("tasks__listProjects", {}),
    ("tasks__listTasks", {"projectId": "apollo"}),
    ("tasks__createTask", {"projectId": "apollo", "body": {"title": "Test the lander"}}),
    ("tasks__getTask", {"projectId": "apollo", "taskId": 404}),
]


def demo_api() -> object:
    spec = importlib.util.spec_from_file_location("tasks_demo_api", LOCAL / "tasks_demo_api.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {LOCAL / 'tasks_demo_api.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.create_app()


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "catalog"
        shutil.copytree(LOCAL / "tasks-openapi", folder / "tasks-openapi")
        async with serving(demo_api()) as api:  # type: ignore[arg-type]
            catalog = (LOCAL / "catalog.yaml").read_text().replace("http://127.0.0.1:8099", api)
            (folder / "catalog.yaml").write_text(catalog)
            (folder / "extra.yaml").write_text(textwrap.dedent(EXTRA % unused_port()))
            settings = GatewaySettings(catalog=folder, port=0, auth="none", log_format="json")
            async with serving(create_app(settings)) as gateway:
                async with Client(f"{gateway}/mcp") as client:
                    for name, arguments in CALLS:
                        await client.call_tool(name, arguments)
                await shoot(f"{gateway}/console", out)


async def shoot(console: str, out: Path) -> None:
    async with chromium.launched() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(chromium.TIMEOUT_MS)
        await page.goto(console)
        await page.screenshot(path=out / "catalogue.png", full_page=True)
        await page.goto(f"{console}/integrations/tasks")
        await page.locator("#tool-tasks__createTask summary").click()
        await page.screenshot(path=out / "integration.png", full_page=True)
        await page.goto(f"{console}/search")
        await page.get_by_label("Query").fill("create a new task in a project")
        await page.get_by_role("button", name="Search").click()
        await page.locator("tr.result").first.wait_for()
        await page.screenshot(path=out / "search.png", full_page=True)
        await page.goto(f"{console}/categories")
        await page.screenshot(path=out / "categories.png", full_page=True)
        await page.goto(f"{console}/calls")
        await page.screenshot(path=out / "calls.png", full_page=True)
    for shot in sorted(out.glob("*.png")):
        print(shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot, file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "operations" / "console")
    asyncio.run(main(parser.parse_args().out))
