"""The benchmark's metrics agree with the reference script that ships with the shared dev data
(``../shared/data/retrieval-dev/bm25_baseline.py``, beside the clone in CI). A clone without it
skips this one test, naming what is missing; nothing else reads outside the repository."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

from toolmesh.gateway.retrieval_bench import query_metrics

SHARED_BASELINE = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "retrieval-dev" / "bm25_baseline.py"
)

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(not SHARED_BASELINE.is_file(), reason=f"{SHARED_BASELINE} is not beside the clone"),
]


def test_metrics_agree_with_the_reference_baseline_script() -> None:
    spec = importlib.util.spec_from_file_location("bm25_baseline", SHARED_BASELINE)
    assert spec is not None
    assert spec.loader is not None
    baseline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(baseline)
    rng = random.Random(7)
    ids = [f"t{i}" for i in range(30)]
    for _ in range(200):
        groups = [[rng.choice(ids)] for _ in range(rng.randint(1, 4))]
        ranked = rng.sample(ids, 10)
        ours, theirs = query_metrics(ranked, groups), baseline.group_metrics(ranked, groups)
        assert ours["recall@5"] == pytest.approx(theirs["recall@5"])
        assert ours["recall@10"] == pytest.approx(theirs["recall@10"])
        assert ours["ndcg@10"] == pytest.approx(theirs["nDCG@10"])
        assert ours["complete@10"] == pytest.approx(theirs["complete@10"])
