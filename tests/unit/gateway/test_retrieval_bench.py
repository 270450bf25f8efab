"""The retrieval benchmark's pure parts: loading sets, prefixing and pooling, the gold check,
distractor sampling, and the token-budget figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolmesh.gateway.retrieval_bench import Showing, budget_metrics
from toolmesh.gateway.retrieval_data import (
    BenchSet,
    DataError,
    integration_name,
    load_queries,
    load_set,
    load_tools,
    pool,
    prefixed,
    sample_lines,
)
from toolmesh.gateway.router import MORE_HEADER, MORE_NAMES, layout
from toolmesh.gateway.settings import GatewaySettings


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_set(folder: Path, tools: list[str], queries: list[tuple[str, list[list[str]]]]) -> Path:
    write_jsonl(folder / "tools.jsonl", [
        {"id": t, "name": t, "description": f"does {t}", "input_schema": {}, "server": "s"} for t in tools
    ])  # fmt: skip
    write_jsonl(folder / "queries.jsonl", [
        {"qid": f"q-{i}", "query": text, "gold_groups": groups} for i, (text, groups) in enumerate(queries)
    ])  # fmt: skip
    return folder


def test_a_set_is_named_after_its_folder_and_keeps_its_tools_and_queries(tmp_path: Path) -> None:
    folder = make_set(tmp_path / "mail", ["send", "read"], [("send a mail", [["send"]])])
    loaded = load_set(folder)
    assert loaded.name == "mail"
    assert [t["id"] for t in loaded.tools] == ["send", "read"]
    assert loaded.queries == [{"qid": "q-0", "query": "send a mail", "gold_groups": [["send"]]}]


def test_gold_as_a_plain_list_becomes_one_group_per_tool(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "q.jsonl", [{"qid": "a", "query": "x y", "gold": ["t1", "t2"]}])
    assert load_queries(path, {"t1", "t2"})[0]["gold_groups"] == [["t1"], ["t2"]]


@pytest.mark.parametrize(
    "row",
    [
        {"qid": "bad", "query": "no gold at all"},
        {"qid": "bad", "query": "empty groups", "gold_groups": []},
        {"qid": "bad", "query": "an empty group", "gold_groups": [["t1"], []]},
        {"qid": "bad", "query": "empty gold", "gold": []},
    ],
)
def test_a_query_without_gold_is_an_error_naming_its_line(tmp_path: Path, row: dict[str, object]) -> None:
    good = {"qid": "ok", "query": "fine", "gold_groups": [["t1"]]}
    path = write_jsonl(tmp_path / "q.jsonl", [good, good, row])
    with pytest.raises(DataError, match=r"q\.jsonl:3: query 'bad' has no gold"):
        load_queries(path, {"t1"})


def test_gold_naming_a_missing_tool_is_an_error_naming_its_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "q.jsonl", [{"qid": "a", "query": "x", "gold_groups": [["nope"]]}])
    with pytest.raises(DataError, match=r"q\.jsonl:1: gold names tools not in the tools file: \['nope'\]"):
        load_queries(path, {"t1"})


def test_a_line_that_is_not_json_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"qid": "a", "query": "x", "gold": ["t"]}\n\n{oops\n')
    with pytest.raises(DataError, match=r"q\.jsonl:3: not JSON"):
        load_queries(path, {"t"})


def test_prefixing_rewrites_ids_and_gold_but_not_names() -> None:
    original = BenchSet(
        "mt",
        [{"id": "a", "name": "alpha", "description": "", "input_schema": {}, "server": ""}],
        [{"qid": "q", "query": "x", "gold_groups": [["a"], ["a", "b"]]}],
    )
    out = prefixed(original, "mt")
    assert out.tools[0]["id"] == "mt/a"
    assert out.tools[0]["name"] == "alpha"
    assert out.queries[0]["gold_groups"] == [["mt/a"], ["mt/a", "mt/b"]]
    assert original.tools[0]["id"] == "a", "the input is not changed"


def test_pooling_keeps_same_ids_of_two_sets_apart_and_adds_distractors_without_queries() -> None:
    one = BenchSet("one", [{"id": "x", "name": "x"}], [{"qid": "1", "query": "q", "gold_groups": [["x"]]}])
    two = BenchSet("two", [{"id": "x", "name": "x"}], [{"qid": "2", "query": "q", "gold_groups": [["x"]]}])
    pooled = pool([one, two], [{"id": "x", "name": "x"}])
    assert [t["id"] for s in pooled for t in s.tools] == ["one/x", "two/x", "corpus/x"]
    assert [s.name for s in pooled] == ["one", "two", "corpus"]
    assert pooled[2].queries == []
    with pytest.raises(DataError, match="must differ"):
        pool([one, one])


def test_distractor_sampling_depends_on_the_seed_alone(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "corpus.jsonl", [{"id": f"t{i}", "name": f"t{i}"} for i in range(200)])
    first = [r["id"] for r in sample_lines(path, 20, seed=17)]
    assert first == [r["id"] for r in sample_lines(path, 20, seed=17)]
    assert first != [r["id"] for r in sample_lines(path, 20, seed=18)]
    assert len(set(first)) == 20
    assert first == sorted(first, key=lambda t: int(t[1:])), "in file order"
    with pytest.raises(DataError, match="fewer than the 201"):
        sample_lines(path, 201)


def test_corpus_integrations_are_named_by_folder_and_file() -> None:
    assert integration_name(Path("googleapis.com/drive.json")) == "googleapis.com-drive"
    assert integration_name(Path("twilio.com.json")) == "twilio.com"


def test_the_budget_cut_is_the_routers_and_shows_the_first_result_always() -> None:
    lines_only = Showing(limit=50, more=0)
    assert layout([400, 400, 400], [], lines_only.limit, 1000, 0).lines == 2
    assert layout([1200, 10], [], 50, 1000, 0).lines == 1, "the first result is always shown"
    assert layout([10] * 80, [], 50, 2000, 0).lines == 50
    figures = budget_metrics(["a", "b", "c", "d"], [["c"], ["d"]], [300] * 4, [5] * 4, lines_only)
    assert figures["recall@1000tok"] == 0.5
    assert figures["complete@1000tok"] == 0.0
    assert figures["recall@2000tok"] == 1.0
    assert figures["complete@2000tok"] == 1.0
    assert figures["shown@1000tok"] == 3.0


def test_after_its_lines_a_search_spends_the_budget_on_names_of_the_tools_ranked_next() -> None:
    header = len(MORE_HEADER) // 4
    cut = layout([30] * 2, [5] * 10, limit=2, budget=60 + header + 20, more=40)
    assert (cut.lines, cut.names) == (2, 4), "two lines, then four names of five tokens each"
    assert layout([30] * 2, [5] * 10, limit=2, budget=1000, more=3).names == 3, "at most ``more`` names"
    assert layout([30] * 3, [5] * 10, limit=5, budget=70, more=40) == layout([30] * 3, [5] * 10, 5, 70, 0), (
        "lines cut by the budget leave nothing for names"
    )
    figures = budget_metrics(
        ["a", "b", "c", "d"], [["c"], ["d"]], [300] * 4, [5] * 4, Showing(limit=1, more=3)
    )
    assert figures["recall@1000tok"] == 1.0, "c and d are shown by name after a's line"
    assert figures["shown@1000tok"] == 4.0


def test_the_benchmark_shows_results_as_the_gateway_does_by_default() -> None:
    assert Showing().limit == GatewaySettings.model_fields["search_limit"].default
    assert Showing().more == MORE_NAMES == GatewaySettings.model_fields["search_more_names"].default


def test_a_tools_response_fields_come_from_returns_or_its_output_schema(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "tools.jsonl", [
        {"id": "a", "name": "a", "output_schema": {"type": "object", "properties": {"skyId": {}, "name": {}}}},
        {"id": "b", "name": "b", "returns": ["id"]},
        {"id": "c", "name": "c"},
    ])  # fmt: skip
    assert [t["returns"] for t in load_tools(path)] == [["skyId", "name"], ["id"], []]
