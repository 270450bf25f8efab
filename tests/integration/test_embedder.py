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
    # Dynamic int8 (the default, fast model) scales activations per batch: a text alone and the
    # same text in a padded batch come out very close, not identical.
    assert float(query @ vectors[0]) == pytest.approx(1.0, abs=0.02)


def test_cached_texts_are_not_embedded_again(embedder: FastEmbedder) -> None:
    texts = ["list invoices", "send an email"]
    first = embedder.embed(texts)
    rows = len(embedder.cache)
    again = embedder.embed([*texts, "list invoices"])
    assert np.array_equal(again[:2], first)
    assert len(embedder.cache) == rows


def test_the_fast_model_is_built_from_the_pinned_one_and_agrees_with_it(tmp_path: Path) -> None:
    fast_dir = model.ensure_fast_model_dir(tmp_path / "fast")
    assert len(model.model_digest(fast_dir)) == 64
    assert model.model_digest(fast_dir) != model.MODEL_SHA256  # its vectors are cached apart
    texts = ["create a GitHub issue", "refund a card payment", "list the open pull requests of a repository"]
    exact = FastEmbedder(
        variant="exact", cache=EmbeddingCache(tmp_path / "e.sqlite", model.MODEL_SHA256)
    ).embed(texts)
    fast = FastEmbedder(variant="fast", cache=EmbeddingCache(tmp_path / "f.sqlite", "fast")).embed(texts)
    agreement = np.sum(exact * fast, axis=1)
    assert agreement.min() > 0.97, agreement


def test_an_unknown_variant_is_a_clear_error() -> None:
    with pytest.raises(model.ModelUnavailable, match="TOOLMESH_EMBEDDING_VARIANT"):
        FastEmbedder(variant="huge")


def test_progress_is_reported_at_the_start_each_batch_and_the_end_of_new_texts_only(
    embedder: FastEmbedder,
) -> None:
    reports: list[tuple[int, int]] = []
    texts = [f"look up the weather in city number {n}" for n in range(70)]
    embedder.embed(texts, progress=lambda done, total: reports.append((done, total)))
    assert reports == [(0, 70), (32, 70), (64, 70), (70, 70)]
    reports.clear()
    embedder.embed([*texts, "one more text"], progress=lambda done, total: reports.append((done, total)))
    assert reports == [(0, 1), (1, 1)]  # cached texts are not counted
