"""Splitting multi-intent requests and merging their results (toolmesh.gateway.index.intents)."""

from __future__ import annotations

import numpy as np

from toolmesh.gateway.index import intents
from toolmesh.gateway.index.hybrid import HybridIndex, Weights


def test_a_request_splits_at_sentences_and_connectives() -> None:
    query = (
        "Find the customer Ada Lovelace in the CRM. Then email her the overdue invoice; "
        "additionally, open a follow-up task for next week"
    )
    assert intents.split(query) == [
        "Find the customer Ada Lovelace in the CRM",
        "email her the overdue invoice",
        "open a follow-up task for next week",
    ]


def test_a_single_intent_or_fragments_do_not_split() -> None:
    assert intents.split("List the open pull requests of a repository") == []
    assert intents.split("Weather today. Thanks!") == []  # "Thanks" is no intent of its own
    assert intents.split("Send an email then") == []


def test_interleaving_keeps_the_first_ranking_first_and_repeats_nothing() -> None:
    assert intents.interleave([[1, 2, 3], [4, 1, 5], [6]], 5) == [1, 4, 6, 2, 3]
    assert intents.interleave([[1, 2], [2, 1]], 10) == [1, 2]


def test_each_intent_of_a_request_finds_its_tool_in_the_top_results() -> None:
    names = ["crm_find_customer", "email_send", "tasks_create", "weather", "music_play", "files_upload"]
    docs = [
        "find customer crm contact person",
        "send email message mail",
        "create task todo follow up",
        "weather forecast",
        "play music song",
        "upload file document",
    ]
    query = "Find the customer Ada in the CRM and then send her an email"
    with_split = [name for name, _ in HybridIndex(names, docs, None).search(query, 2)]
    assert set(with_split) == {"crm_find_customer", "email_send"}
    without = HybridIndex(names, docs, None, Weights(split_intents=False)).search(query, 2)
    assert len(without) <= 2
    assert np.isfinite([score for _, score in without]).all()
