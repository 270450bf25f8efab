"""``toolmesh compile`` and ``toolmesh crds`` as a user runs them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import DEMO_SPEC
from toolmesh.cli.main import main
from toolmesh.openapi import budgets
from toolmesh.testing.http import serving


def test_compile_prints_the_tools_and_a_hint_about_hidden_diagnostics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["compile", str(DEMO_SPEC), "--prefix", "tasks"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "Tasks API (toolmesh demo) 1.0.0 [openapi 3.0.3]\n8 tools from 8 operations  sha256:"
    )
    assert "  tasks__createTask    POST   /projects/{projectId}/tasks  Create a task\n" in out
    assert "(1 informational diagnostics; -v shows them)" in out


def test_compile_json_is_machine_readable_and_filters_apply(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", str(DEMO_SPEC), "--json", "--read-only", "--exclude", "who*"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in result["tools"]] == ["listProjects", "listTasks", "getTask"]
    assert result["operations"] == 8
    assert result["tools"][0]["inputSchema"]["type"] == "object"
    assert result["tools"][0]["route"]["method"] == "GET"
    assert result["securitySchemes"] == {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"openapi: [1, 2\n", "invalid YAML at line 2"),
        (b'{"info": {}}', "not an OpenAPI document (no 'openapi' or 'swagger' field at the top level)"),
        (b"\xff\xfe\x00", "not UTF-8 text"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "toolmesh.cli.main", "compile", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"toolmesh compile: {path}: ")
    assert message in lines[0]


def test_a_missing_file_is_one_line_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["compile", str(tmp_path / "nope.yaml")]) == 2
    assert (
        capsys.readouterr().err
        == f"toolmesh compile: cannot read {tmp_path / 'nope.yaml'}: No such file or directory\n"
    )


def test_crds_check_passes_on_the_checked_in_files(repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo_root)
    assert main(["crds", "--check"]) == 0


@pytest.fixture
async def published() -> AsyncIterator[str]:
    """The demo document served on loopback, and a path that answers more than the budget."""

    async def document(request: web.Request) -> web.Response:
        return web.Response(body=DEMO_SPEC.read_bytes())

    async def huge(request: web.Request) -> web.StreamResponse:  # declares one byte over the budget
        response = web.StreamResponse()
        response.content_length = budgets.MAX_DOCUMENT_BYTES + 1
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # the client hangs up without reading the body
            await response.write(b"#" * 65536)
        return response

    app = web.Application()
    app.router.add_get("/tasks.yaml", document)
    app.router.add_get("/huge.yaml", huge)
    async with serving(app) as url:
        yield url


async def test_compile_fetches_a_url_and_refuses_one_over_the_compilers_budget(
    published: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(main, ["compile", f"{published}/tasks.yaml", "--prefix", "tasks"]) == 0
    assert "8 tools from 8 operations" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["compile", f"{published}/huge.yaml"]) == 2
    assert capsys.readouterr().err == (
        f"toolmesh compile: {published}/huge.yaml: the document is larger than the 64.0 MiB budget; it is not read\n"
    )


def test_compile_a_folder_compiles_every_spec_under_it_and_names_each_that_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "tasks.yaml").write_bytes(DEMO_SPEC.read_bytes())
    (tmp_path / "broken.json").write_text('{"info": {}}')
    (tmp_path / "notes.txt").write_text("not a spec")
    assert main(["compile", str(tmp_path), "--read-only"]) == 1  # one failed
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "  a/tasks.yaml  4 tools from 8 operations",
        "  broken.json   error: not an OpenAPI document (no 'openapi' or 'swagger' field at the top level)",
        "",
        "2 specs: 1 compiled (4 tools from 8 operations), 1 failed",
    ]
    # Not a terminal: a line at the start and one at the end, no bar.
    assert captured.err.splitlines()[0] == f"compiling {tmp_path}: started (2 specs)"
    assert captured.err.splitlines()[1].startswith(f"compiling {tmp_path}: done 2 specs in ")


def test_compile_a_folder_as_json_and_every_spec_compiled_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tasks.yaml").write_bytes(DEMO_SPEC.read_bytes())
    assert main(["compile", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compiled"] == 1
    assert report["failed"] == 0
    assert report["specs"][0]["path"] == "tasks.yaml"
    assert report["specs"][0]["tools"] == 8
