"""Retrieval building blocks: terms, BM25, fusion, and the benchmark's metrics."""

from __future__ import annotations

import numpy as np
import pytest

from toolmesh.gateway.index import fusion, text
from toolmesh.gateway.index.hybrid import HybridIndex, Weights
from toolmesh.gateway.index.lexical import BM25
from toolmesh.gateway.retrieval_bench import query_metrics


def test_identifiers_split_into_lower_case_terms_without_stop_words() -> None:
    assert text.terms("createIssueComment for the repo_name in GitHub-API") == [
        "create", "issue", "comment", "repo", "name", "git", "hub", "api",
    ]  # fmt: skip
    assert text.split_words("listHTTPRoutes") == "list HTTP Routes"


def test_a_tool_document_holds_name_description_parameters_and_context() -> None:
    doc = text.document(
        "issues_create",
        "Create an issue.",
        {"properties": {"repoOwner": {"description": "Who owns the repository"}}},
        "github code",
    )
    assert doc == "issues create\nCreate an issue.\nrepo Owner Who owns the repository\ngithub code"


def test_bm25_ranks_the_document_with_the_rarer_matching_term_first() -> None:
    index = BM25(
        [["send", "email"], ["send", "slack", "message"], ["create", "invoice"], ["send", "invoice"]]
    )
    scores = index.scores(["send", "invoice"])
    assert list(fusion.top(scores, 4)) == [3, 2, 0, 1]
    assert scores[0] == pytest.approx(scores[1], rel=0.2)
    assert index.scores(["unknown"]).sum() == 0


def test_top_breaks_ties_by_position_and_rrf_rewards_agreement() -> None:
    assert list(fusion.top(np.array([1.0, 3.0, 3.0, 0.5], dtype=np.float32), 3)) == [1, 2, 0]
    fused = fusion.rrf([np.array([0, 1]), np.array([1, 2])], [1.0, 1.0], 3)
    assert list(fusion.top(fused, 3)) == [1, 0, 2]


def test_diversify_charges_each_further_tool_of_an_integration_but_keeps_a_clear_winner() -> None:
    scores = np.array([3.0, 2.9, 2.8, 2.0, 1.0], dtype=np.float32)
    groups = [0, 0, 0, 1, 2]  # three tools of one API, then two others
    assert list(fusion.diversify(scores, groups, 0.0, 5)) == [0, 1, 2, 3, 4]
    assert list(fusion.diversify(scores, groups, 0.5, 5)) == [0, 1, 3, 2, 4]  # 2.8 - 1.0 < 2.0
    assert list(fusion.diversify(scores, groups, 2.0, 3)) == [0, 3, 4]  # 2.9 - 2.0 < 1.0
    assert list(fusion.diversify(scores, groups, 0.5, 2)) == [0, 1]


def test_diversify_charges_exactly_the_tools_of_the_same_group_ranked_above() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        scores = rng.standard_normal(n).astype(np.float32)
        groups = rng.integers(0, 5, n).tolist()
        order = fusion.top(scores, n)
        seen: dict[int, int] = {}
        adjusted = np.empty(n, dtype=np.float32)
        for position, i in enumerate(order.tolist()):
            adjusted[position] = scores[i] - 0.5 * seen.get(groups[i], 0)
            seen[groups[i]] = seen.get(groups[i], 0) + 1
        assert list(fusion.diversify(scores, groups, 0.5, 10)) == list(order[fusion.top(adjusted, 10)])


def test_an_integration_penalty_keeps_one_large_api_from_filling_a_search() -> None:
    docs = ["create issue", "create issue comment", "create issue label", "create issue ticket on a board"]
    plain = HybridIndex(["gh1", "gh2", "gh3", "jira"], docs, None)
    assert [t for t, _ in plain.search("create issue", 3)] == ["gh1", "gh2", "gh3"]
    diverse = HybridIndex(
        ["gh1", "gh2", "gh3", "jira"],
        docs,
        None,
        Weights(integration_penalty=1.0),
        groups=["github", "github", "github", "jira"],
    )
    assert "jira" in [t for t, _ in diverse.search("create issue", 3)]


def test_lexical_only_hybrid_search_finds_by_name_words() -> None:
    index = HybridIndex(["a", "b", "c"], ["send email", "create invoice", "list invoices due"], embedder=None)
    assert [tid for tid, _ in index.search("create an invoice", 2)] == ["b", "c"]
    assert index.search("nothing matches", 2) == []


def test_metrics_of_a_ranking_against_gold_groups() -> None:
    m = query_metrics(["x", "a", "y", "b"], [["a"], ["b", "b2"], ["c"]])
    assert m["recall@1"] == 0
    assert m["recall@5"] == pytest.approx(2 / 3)
    assert m["mrr"] == 0.5
    assert m["complete@10"] == 0
    ideal = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert m["ndcg@10"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / ideal)
