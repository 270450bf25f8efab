"""The two vector stores agree: in-process arrays and Qdrant (qdrant-client's local mode here)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.gateway.embedders import FixedEmbedder
from toolmesh.gateway.index.hybrid import HybridIndex
from toolmesh.gateway.index.vectors import NumpyVectors, QdrantVectors


def unit(rows: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((rows, 16)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_qdrant_and_numpy_return_the_same_nearest_vectors() -> None:
    vectors, queries = unit(300, 1), unit(5, 2)
    qdrant = QdrantVectors(vectors)
    try:
        numpy = NumpyVectors(vectors)
        for q in queries:
            assert list(qdrant.top(q, 10)) == list(numpy.top(q, 10))
    finally:
        qdrant.close()


def test_the_hybrid_index_fuses_a_dense_match_with_no_shared_words() -> None:
    e = np.eye(3, dtype=np.float32)
    embedder = FixedEmbedder(
        {"send email": e[0], "create invoice": e[1], "bill the client": e[1], "play music": e[2]}
    )
    for store in (NumpyVectors, QdrantVectors):
        index = HybridIndex(
            ["a", "b", "c"], ["send email", "create invoice", "play music"], embedder, store=store
        )
        assert index.search("bill the client", 1)[0][0] == "b"


def test_an_empty_index_with_embeddings_finds_nothing_without_a_warning() -> None:
    """A gateway in cluster mode is searched before any integration is Ready."""
    embedder = FixedEmbedder({"send email": np.eye(384, dtype=np.float32)[0]})
    for store in (NumpyVectors, QdrantVectors):
        assert HybridIndex([], [], embedder, store=store).search("send email", 5) == []


class RecordingEmbedder:
    """Embeds every text to the same unit vector and remembers what it was asked to read."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.read.extend(texts)
        return np.tile(np.eye(4, dtype=np.float32)[0], (len(texts), 1))

    def embed_query(self, text: str) -> np.ndarray:
        return np.eye(4, dtype=np.float32)[0]


def test_the_router_embeds_the_short_dense_documents_into_the_configured_store() -> None:
    from toolmesh.gateway.catalog import GatewayCatalog, ToolRecord
    from toolmesh.gateway.index import text
    from toolmesh.gateway.router import Router

    schema = {
        "type": "object",
        "properties": {"projectId": {"type": "string", "description": "The project."}},
    }
    record = ToolRecord(
        "tasks__createTask", "Create a task. " + "Long details. " * 100, schema, "pm", "tasks"
    )
    catalog = GatewayCatalog({record.name: record}, {"pm": "Project management"}, {})
    used: list[np.ndarray] = []

    def store(vectors: np.ndarray) -> NumpyVectors:
        used.append(vectors)
        return NumpyVectors(vectors)

    embedder = RecordingEmbedder()
    Router(catalog, embedder, store=store)
    assert embedder.read == [catalog.dense_document(record)]
    assert len(embedder.read[0]) < len(catalog.document(record))
    assert len(embedder.read[0]) <= text.DENSE_DESCRIPTION_CHARS + 100
    assert len(used) == 1


def test_a_large_store_picks_candidates_by_an_int8_scan_and_finds_what_an_exact_scan_finds() -> None:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((40, 384)).astype(np.float32)  # clustered, like real embeddings
    rows = centres[rng.integers(0, 40, 6000)] + 0.3 * rng.standard_normal((6000, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    quantized = NumpyVectors(rows, quantize_above=1000)
    exact = NumpyVectors(rows, quantize_above=10**9)
    assert quantized._scan is not None
    assert exact._scan is None
    for q in rows[rng.integers(0, 6000, 20)] + 0.1 * rng.standard_normal((20, 384)).astype(np.float32):
        a, b = quantized.top(q, 50), exact.top(q, 50)
        assert a[0] == b[0]
        assert len(set(a.tolist()) & set(b.tolist())) >= 49  # the exact re-ranking orders them
        assert np.all(np.diff(rows[a] @ q) <= 1e-6)  # best first, by the exact cosine


def test_the_int8_scan_finds_the_best_rows_and_respects_k() -> None:
    from toolmesh.gateway.index.quantized import LEVELS, Int8Scan, quantize

    rows = unit(500, 4)
    columns, scales = quantize(rows)
    assert columns.dtype == np.int8
    assert columns.shape == (16, 500)
    assert np.abs(columns).max() == LEVELS
    assert np.abs(columns.T.astype(np.float32) * scales[:, None] - rows).max() <= 0.5 * scales.max() + 1e-6
    scan = Int8Scan(rows)
    for q in unit(20, 5):  # a candidate picker: the exact best 5 are among its best 10
        assert set(np.argsort(-(rows @ q))[:5].tolist()) <= set(scan.top(q, 10).tolist())
    assert sorted(scan.top(rows[0], 10_000).tolist()) == list(range(500))  # k is at most every row
    assert scan.top(rows[0], 0).tolist() == []


def test_the_int8_scan_is_a_valid_onnx_model() -> None:
    """Written by hand in protobuf's wire format (index/onnx_wire.py): ``onnx`` checks it."""
    onnx = pytest.importorskip("onnx")
    from toolmesh.gateway.index.quantized import graph, quantize

    model = onnx.load_model_from_string(graph(*quantize(unit(30, 6))))
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node][-1] == "TopK"
    assert [i.name for i in model.graph.input] == ["query", "penalty", "k"]
    rows = onnx.numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "rows"))
    assert rows.shape == (16, 30)
    assert rows.dtype == np.int8
    assert np.array_equal(rows, quantize(unit(30, 6))[0])


def test_fusing_the_candidates_only_gives_the_scores_of_fusing_the_whole_catalogue() -> None:
    from toolmesh.gateway.index import fusion

    rankings = [np.array([5, 2, 9], dtype=np.int64), np.array([2, 7], dtype=np.int64)]
    whole = fusion.rrf(rankings, [1.0, 0.5], 12)
    ids, scores = fusion.rrf_candidates(rankings, [1.0, 0.5])
    assert ids.tolist() == [2, 5, 7, 9]
    assert np.allclose(scores, whole[ids])
    assert np.count_nonzero(whole) == len(ids)


def test_standardised_fusion_keeps_a_large_lead_that_rank_fusion_throws_away() -> None:
    from toolmesh.gateway.index import fusion

    # Candidates 0..3: lexically, 0 is far ahead; densely, 1 is a hair ahead of 0.
    lexical = np.array([9.0, 1.0, 0.8, 0.7], dtype=np.float32)
    dense = np.array([0.60, 0.61, 0.20, 0.10], dtype=np.float32)
    fused = fusion.zscore_candidates([lexical, dense], [1.0, 1.0])
    assert int(np.argmax(fused)) == 0
    _, by_rank = fusion.rrf_candidates([np.array([0, 1, 2, 3]), np.array([1, 0, 2, 3])], [1.0, 1.0])
    assert by_rank[0] == by_rank[1]  # rank fusion sees a tie
    assert fusion.zscore_candidates([np.ones(3, dtype=np.float32)], [1.0]).tolist() == [0.0, 0.0, 0.0]
