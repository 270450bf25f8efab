"""Okapi BM25 over tool documents, scored with numpy (k1 = 1.2, b = 0.75, Lucene idf)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

K1, B = 1.2, 0.75


class BM25:
    def __init__(self, docs: Sequence[Sequence[str]]) -> None:
        self.n = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        avg = float(lengths.mean()) if self.n else 1.0
        self._norm = K1 * (1 - B + B * lengths / max(avg, 1e-9))
        postings: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for i, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                ids, tfs = postings[term]
                ids.append(i)
                tfs.append(tf)
        self._postings: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = {}
        self._idf: dict[str, float] = {}
        for term, (ids, tfs) in postings.items():
            self._postings[term] = (np.array(ids, dtype=np.int64), np.array(tfs, dtype=np.float32))
            self._idf[term] = math.log(1 + (self.n - len(ids) + 0.5) / (len(ids) + 0.5))

    def scores(self, query: Sequence[str]) -> npt.NDArray[np.float32]:
        """BM25 score of every document for the query terms (zeros where nothing matches)."""
        out = np.zeros(self.n, dtype=np.float32)
        for term, qtf in Counter(query).items():
            posting = self._postings.get(term)
            if posting is None:
                continue
            ids, tfs = posting
            out[ids] += qtf * self._idf[term] * tfs * (K1 + 1) / (tfs + self._norm[ids])
        return out
