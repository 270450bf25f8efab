"""HybridIndex.explain: the scores the console's search playground shows are those the index ranks by."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.gateway.embedders import FixedEmbedder
from toolmesh.gateway.index.hybrid import HybridIndex, Weights

DOCS = ["send an email to a person", "post a slack message", "create an invoice", "send an invoice"]
QUERY = "send the invoice"


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


WHOLE = Weights(split_intents=False)


def index(weights: Weights = WHOLE) -> HybridIndex:
    table = {
        DOCS[0]: unit(1, 0, 0),
        DOCS[1]: unit(0, 1, 0),
        DOCS[2]: unit(0, 0, 1),
        DOCS[3]: unit(1, 0, 1),
        QUERY: unit(1, 0, 2),
    }
    return HybridIndex(["email", "slack", "create", "send"], DOCS, FixedEmbedder(table), weights)


def test_each_tool_gets_its_lexical_dense_and_fused_score_and_fused_is_what_it_ranked_by() -> None:
    hybrid = index()
    ranked = hybrid.search(QUERY, k=4)
    scores = hybrid.explain(QUERY, [name for name, _ in ranked])
    assert ranked[0][0] == "send"
    for name, fused in ranked:
        assert scores[name].fused == pytest.approx(fused)
    assert scores["send"].lexical > scores["email"].lexical > 0  # "send" and "invoice" beat "send"
    assert scores["slack"].lexical == 0.0
    assert scores["send"].dense == pytest.approx(float(unit(1, 0, 1) @ unit(1, 0, 2)))
    assert scores["slack"].dense == pytest.approx(0.0, abs=1e-6)


def test_a_tool_outside_the_candidates_has_no_fused_score_and_unknown_names_are_left_out() -> None:
    hybrid = index(Weights(split_intents=False, depth=1))  # each ranking brings its best only
    scores = hybrid.explain(QUERY, ["slack", "send", "nope"])
    assert set(scores) == {"slack", "send"}
    assert scores["slack"].fused is None
    assert scores["send"].fused is not None


def test_without_the_model_dense_scores_are_none() -> None:
    hybrid = HybridIndex(["email", "send"], DOCS[::3], None, Weights(split_intents=False))
    scores = hybrid.explain(QUERY, ["email", "send"])
    assert scores["send"].dense is None
    assert scores["send"].fused == pytest.approx(dict(hybrid.search(QUERY, k=2))["send"])
