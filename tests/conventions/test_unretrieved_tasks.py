"""The suite's own guard (tests/unretrieved.py): a task whose exception nobody retrieves fails the test
that left it, naming the task, and one that goes unnoticed until the end fails the session.

Run on a small suite of its own, in a pytest of its own (a subprocess), with tests/conftest.py's
hooks and fixture.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """
    from tests.conftest import (
        no_unretrieved_task_exceptions,
        pytest_collection_finish,
        pytest_configure,
        pytest_sessionfinish,
        pytest_unconfigure,
    )
"""

TESTS = """
    import asyncio
    import threading

    import pytest


    async def fail() -> None:
        raise RuntimeError("broken on purpose")


    async def test_leaves_a_failed_task_behind() -> None:
        task = asyncio.create_task(fail(), name="forgotten-task")
        await asyncio.sleep(0.01)
        assert task.done()


    async def test_awaits_its_failed_task() -> None:
        task = asyncio.create_task(fail(), name="awaited-task")
        with pytest.raises(RuntimeError):
            await task


    def test_leaves_a_failed_task_behind_in_a_loop_of_another_thread() -> None:
        def run() -> None:
            loop = asyncio.new_event_loop()
            task = loop.create_task(fail(), name="thread-task")
            loop.run_until_complete(asyncio.sleep(0.01))
            assert task.done()
            loop.close()

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()


    KEPT = []


    async def test_keeps_a_failed_task_alive_until_the_end() -> None:
        KEPT.append(asyncio.create_task(fail(), name="kept-task"))
        await asyncio.sleep(0.01)


    def test_drops_it() -> None:
        KEPT.clear()  # the task is in a reference cycle (its exception's traceback): the collector finds it
"""


def run_pytest(tmp_path: Path, tests: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_tasks.py").write_text(textwrap.dedent(tests))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
         "--rootdir", str(tmp_path), str(tmp_path / "test_tasks.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_a_task_exception_never_retrieved_fails_the_test_that_left_it_and_names_the_task(
    tmp_path: Path,
) -> None:
    result = run_pytest(tmp_path, TESTS)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "5 passed, 3 errors" in out, out
    assert "ERROR at teardown of test_leaves_a_failed_task_behind " in out, out
    assert "ERROR at teardown of test_leaves_a_failed_task_behind_in_a_loop_of_another_thread" in out, out
    assert "name='forgotten-task'" in out, out
    assert "name='thread-task'" in out, out
    assert "RuntimeError: broken on purpose" in out, out
    assert "awaited-task" not in out, out
    # Kept alive past its test, it is reported by the test that lets go of it.
    assert "ERROR at teardown of test_drops_it" in out, out
    assert "name='kept-task'" in out, out


def test_a_task_exception_never_retrieved_outside_any_test_fails_the_session(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        """
        import asyncio

        import pytest


        async def fail() -> None:
            raise RuntimeError("broken on purpose")


        @pytest.fixture(scope="session")
        def left_behind():
            loop = asyncio.new_event_loop()
            task = loop.create_task(fail(), name="session-task")
            yield
            loop.run_until_complete(asyncio.sleep(0.01))
            loop.close()
            assert task.done()


        def test_passes(left_behind: None) -> None:
            pass
        """,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout, result.stdout
    assert "Outside any test, 1 asyncio task exception(s) never retrieved" in result.stdout, result.stdout
    assert "name='session-task'" in result.stdout, result.stdout
