"""Hubness reduction: how crowded each tool's neighbourhood is, and what that does to a ranking."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.gateway.embedders import FixedEmbedder
from toolmesh.gateway.index import hubness
from toolmesh.gateway.index.hybrid import HybridIndex, Weights
from toolmesh.gateway.index.vectors import NumpyVectors, QdrantVectors


def unit_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, k: int) -> np.ndarray:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return np.sort(sims, axis=1)[:, -k:].mean(axis=1)


def test_crowding_is_the_mean_cosine_to_the_nearest_other_rows() -> None:
    vectors = unit_rows(np.random.default_rng(1).standard_normal((60, 8)))
    np.testing.assert_allclose(hubness.crowding(vectors, neighbours=10), brute_force(vectors, 10), atol=1e-5)


def test_a_row_in_a_crowd_is_more_crowded_than_a_row_alone() -> None:
    rng = np.random.default_rng(2)
    crowd = unit_rows(np.array([1.0, 0, 0, 0]) + 0.05 * rng.standard_normal((12, 4)))
    alone = unit_rows(np.array([[0, 0, 0, 1.0]]))
    values = hubness.crowding(np.vstack([crowd, alone]))
    assert values[:12].min() > 0.9  # each crowd member's ten nearest are other members
    assert values[12] < 0.5  # the lone row is not its own neighbour


@pytest.mark.parametrize("rows", [0, 1])
def test_with_no_other_row_nothing_is_crowded(rows: int) -> None:
    assert (
        hubness.crowding(unit_rows(np.ones((rows, 3))) if rows else np.zeros((0, 3), np.float32)).tolist()
        == [0.0] * rows
    )


def test_fewer_rows_than_neighbours_average_over_all_the_others() -> None:
    vectors = unit_rows([[1, 0], [1, 1], [0, 1]])
    np.testing.assert_allclose(hubness.crowding(vectors, neighbours=10), brute_force(vectors, 2), atol=1e-6)


def test_a_sample_measures_the_crowd_among_fewer_rows_and_still_tells_a_crowd_from_a_lone_row() -> None:
    rng = np.random.default_rng(3)
    centres = unit_rows(rng.standard_normal((5, 32)))
    crowds = unit_rows(centres[rng.integers(0, 5, 3000)] + 0.1 * rng.standard_normal((3000, 32)))
    lone = unit_rows(rng.standard_normal((20, 32)))
    vectors = np.vstack([crowds, lone]).astype(np.float32)
    sampled = hubness.crowding(vectors, sample=500)
    exact = hubness.crowding(vectors, sample=10**6)
    assert sampled[:3000].min() > sampled[3000:].max()
    assert np.corrcoef(sampled, exact)[0, 1] > 0.95


def crowd_and_lone_index(weight: float) -> HybridIndex:
    """Eleven near-identical tools a little closer to the query than one tool alone."""
    query = np.array([1.0, 0, 0], dtype=np.float32)
    table = {"need": query}
    for n in range(11):
        table[f"crowd {n}"] = unit_rows([[0.96, 0.28 + 0.001 * n, 0]])[0]
    table["lone"] = unit_rows([[0.93, -0.2, 0.3]])[0]
    ids = [t.replace(" ", "-") for t in table if t != "need"]
    documents = [t for t in table if t != "need"]
    weights = Weights(lexical=0.0, hubness=weight, split_intents=False, integration_penalty=0)
    return HybridIndex(ids, ["zzz"] * len(ids), FixedEmbedder(table), weights, dense_documents=documents)


def test_a_tool_alone_outranks_a_crowd_that_is_slightly_closer_to_the_request() -> None:
    index = crowd_and_lone_index(0.5)
    assert index.penalty is not None
    assert index.search("need", 3)[0][0] == "lone"


def test_without_hubness_reduction_the_raw_cosine_ranks() -> None:
    index = crowd_and_lone_index(0.0)
    assert index.penalty is None
    assert index.search("need", 12)[-1][0] == "lone"


def test_explain_still_reports_the_raw_cosine() -> None:
    index = crowd_and_lone_index(0.5)
    scores = index.explain("need", ["lone"])
    assert scores["lone"].dense == pytest.approx(float(unit_rows([[0.93, -0.2, 0.3]])[0][0]), abs=1e-6)


def test_every_store_ranks_by_the_cosine_less_the_penalty() -> None:
    rng = np.random.default_rng(4)
    vectors = unit_rows(rng.standard_normal((400, 16)))
    penalty = (0.5 * hubness.crowding(vectors)).astype(np.float32)
    qdrant = QdrantVectors(vectors)
    try:
        for query in unit_rows(rng.standard_normal((5, 16))):
            expected = np.argsort(-(vectors @ query - penalty), kind="stable")[:10].tolist()
            assert NumpyVectors(vectors).top(query, 10, penalty).tolist() == expected
            assert qdrant.top(query, 10, penalty).tolist() == expected
            assert NumpyVectors(vectors).top(query, 10).tolist() != expected  # the penalty changed it
    finally:
        qdrant.close()


def test_a_large_store_applies_the_penalty_in_its_int8_scan_too() -> None:
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((30, 384)).astype(np.float32)
    rows = unit_rows(centres[rng.integers(0, 30, 5000)] + 0.4 * rng.standard_normal((5000, 384)))
    penalty = (0.5 * hubness.crowding(rows)).astype(np.float32)
    quantized = NumpyVectors(rows, quantize_above=1000)
    assert quantized._scan is not None
    overlap = []
    for query in rows[rng.integers(0, 5000, 20)]:
        exact = np.argsort(-(rows @ query - penalty), kind="stable")[:50]
        overlap.append(len(set(quantized.top(query, 50, penalty).tolist()) & set(exact.tolist())) / 50)
    assert np.mean(overlap) >= 0.99
