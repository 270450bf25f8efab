"""The real embedding model through fastembed, offline, and its cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toolmesh.gateway.index import model
from toolmesh.gateway.index.embedder import EmbeddingCache, FastEmbedder


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> FastEmbedder:
    cache = EmbeddingCache(tmp_path_factory.mktemp("cache") / "vectors.sqlite", model.MODEL_SHA256)
    return FastEmbedder(threads=2, cache=cache)


def test_the_model_directory_is_built_from_the_pinned_packages(tmp_path: Path) -> None:
    target = model.ensure_model_dir(tmp_path / "m")
    assert sorted(p.name for p in target.iterdir()) == [
        ".complete", "config.json", "model.onnx", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
    ]  # fmt: skip
    assert '"model_max_length": 256' in (target / "tokenizer_config.json").read_text()


def test_embeddings_are_unit_vectors_that_put_related_texts_close(embedder: FastEmbedder) -> None:
    vectors = embedder.embed(
        ["create a GitHub issue", "open a new bug report in a repository", "refund a card payment"]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    related, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert related > unrelated + 0.2
    query = embedder.embed_query("create a GitHub issue")
    assert float(query @ vectors[0]) == pytest.approx(1.0, abs=1e-3)


def test_cached_texts_are_not_embedded_again(embedder: FastEmbedder) -> None:
    texts = ["list invoices", "send an email"]
    first = embedder.embed(texts)
    rows = len(embedder.cache)
    again = embedder.embed([*texts, "list invoices"])
    assert np.array_equal(again[:2], first)
    assert len(embedder.cache) == rows
