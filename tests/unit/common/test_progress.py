"""Progress: a bar only for a person at a terminal; lines for logs; throttled log lines for servers."""

from __future__ import annotations

import io
from typing import Any

from toolmesh.common.progress import Bar, BarProgress, LogProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_a_bar_writes_one_line_at_start_and_one_at_the_end() -> None:
    out = io.StringIO()
    with Bar("compiling", 3, unit="specs", stream=out) as bar:
        for _ in range(3):
            bar.advance()
    lines = out.getvalue().splitlines()
    assert lines[0] == "compiling: started (3 specs)"
    assert lines[1].startswith("compiling: done 3 specs in ")
    assert len(lines) == 2


def test_on_a_terminal_a_bar_is_drawn_in_place() -> None:
    out = Terminal()
    with Bar("compiling", 3, unit="specs", stream=out) as bar:
        bar(2, 3)
        bar(3, 3)
    text = out.getvalue()
    assert "\r" in text  # redrawn, not a line per step
    assert "3/3" in text
    assert "started" not in text


def test_bar_progress_starts_at_the_first_report_and_ends_at_the_last() -> None:
    out = io.StringIO()
    report = BarProgress("embedding tools", unit="tools", stream=out)
    for done in (0, 32, 64, 100):
        report(done, 100)
    report(0, 5)  # a later rebuild: a bar of its own
    report(5, 5)
    lines = out.getvalue().splitlines()
    assert [line.split(" in ")[0] for line in lines] == [
        "embedding tools: started (100 tools)",
        "embedding tools: done 100 tools",
        "embedding tools: started (5 tools)",
        "embedding tools: done 5 tools",
    ]


def test_log_progress_logs_the_start_each_interval_or_step_and_always_the_end() -> None:
    now = [0.0]
    logged: list[tuple[str, dict[str, Any]]] = []
    report = LogProgress(
        lambda event, **fields: logged.append((event, fields)),
        "index.embedding",
        seconds=10.0,
        percent=25.0,
        clock=lambda: now[0],
    )
    report(0, 1000)  # the start
    now[0] = 1.0
    report(100, 1000)  # 10 %, 1 s later: quiet
    now[0] = 11.5
    report(150, 1000)  # 10 s since the last line
    now[0] = 12.0
    report(450, 1000)  # 30 % more
    report(460, 1000)  # quiet
    report(1000, 1000)  # the end, always
    assert [fields["done"] for _, fields in logged] == [0, 150, 450, 1000]
    assert {event for event, _ in logged} == {"index.embedding"}
    assert logged[-1][1] == {"done": 1000, "total": 1000, "percent": 100.0, "elapsed_seconds": 12.0}
    now[0] = 500.0
    report(0, 10)  # a later rebuild: timed from its own start
    now[0] = 502.0
    report(10, 10)
    assert [f for _, f in logged[-2:]] == [
        {"done": 0, "total": 10, "percent": 0.0, "elapsed_seconds": 0.0},
        {"done": 10, "total": 10, "percent": 100.0, "elapsed_seconds": 2.0},
    ]
