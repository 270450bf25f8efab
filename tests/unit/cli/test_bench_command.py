"""``toolmesh bench retrieval`` on a small file pair in the retrieval-dev format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolmesh.cli.main import main

KEYS = {
    "recall@1", "recall@5", "recall@10", "ndcg@10", "mrr", "complete@10",
    "tokens_per_query", "catalogue_tokens", "latency_ms_p50", "latency_ms_p99",
}  # fmt: skip


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_json_output_has_the_documented_keys_as_fractions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tools = write_jsonl(tmp_path / "tools.jsonl", [
        {"id": "send_email", "name": "send_email", "description": "Send an email to a recipient", "input_schema": {}, "server": "mail"},
        {"id": "create_invoice", "name": "create_invoice", "description": "Create a customer invoice", "input_schema": {}, "server": "billing"},
        {"id": "list_repos", "name": "list_repos", "description": "List repositories of a user", "input_schema": {}, "server": "code"},
    ])  # fmt: skip
    queries = write_jsonl(tmp_path / "queries.jsonl", [
        {"qid": "q-1", "query": "email the customer", "gold": ["send_email"], "gold_groups": [["send_email"]]},
        {"qid": "q-2", "query": "bill the customer with an invoice and email it", "gold": ["create_invoice", "send_email"],
         "gold_groups": [["create_invoice"], ["send_email"]]},
    ])  # fmt: skip
    assert (
        main(
            [
                "bench",
                "retrieval",
                "--tools",
                str(tools),
                "--queries",
                str(queries),
                "--json",
                "--lexical-only",
            ]
        )
        == 0
    )
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) >= KEYS
    assert figures["recall@10"] == 1.0
    assert figures["complete@10"] == 1.0
    assert figures["recall@1"] == 0.75, "one of the second query's two tools fits in the top 1"
    assert 0 < figures["tokens_per_query"] <= figures["catalogue_tokens"]


def write_set(folder: Path, tools: list[tuple[str, str]], queries: list[tuple[str, list[str]]]) -> Path:
    folder.mkdir()
    write_jsonl(folder / "tools.jsonl", [
        {"id": t, "name": t, "description": d, "input_schema": {}, "server": t} for t, d in tools
    ])  # fmt: skip
    write_jsonl(folder / "queries.jsonl", [
        {"qid": f"q-{i}", "query": q, "gold": gold} for i, (q, gold) in enumerate(queries)
    ])  # fmt: skip
    return folder


def test_sets_are_pooled_and_reported_each_and_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mail = write_set(tmp_path / "mail", [("send_email", "Send an email to a recipient")],
                     [("email the customer", ["send_email"])])  # fmt: skip
    billing = write_set(tmp_path / "billing", [("create_invoice", "Create a customer invoice"),
                                                ("send_email", "Send an invoice by email")],
                        [("bill the customer with an invoice", ["create_invoice"])])  # fmt: skip
    per_query = tmp_path / "per-query.jsonl"
    argv = ["bench", "retrieval", "--set", str(mail), "--set", str(billing), "--json", "--lexical-only",
            "--per-query", str(per_query)]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pool_tools"] == 3
    assert set(report["sets"]) == {"mail", "billing"}
    assert set(report["sets"]["mail"]) >= KEYS | {"recall@1000tok", "complete@2000tok"}
    assert report["pooled"]["queries"] == 2
    rows = [json.loads(line) for line in per_query.read_text().splitlines()]
    assert [r["set"] for r in rows] == ["mail", "billing"]
    assert rows[1]["gold_groups"] == [["billing/create_invoice"]]
    assert rows[1]["ranked"][0][0] == "billing/create_invoice"


def test_a_query_without_gold_fails_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_set(tmp_path / "mail", [("send_email", "Send an email")], [("email", ["send_email"])])
    with (folder / "queries.jsonl").open("a") as fh:
        fh.write(json.dumps({"qid": "lost", "query": "no gold here"}) + "\n")
    assert main(["bench", "retrieval", "--set", str(folder), "--lexical-only"]) == 2
    assert f"{folder / 'queries.jsonl'}:2: query 'lost' has no gold" in capsys.readouterr().err
