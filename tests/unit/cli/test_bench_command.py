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
