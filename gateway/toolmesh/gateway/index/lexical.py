"""Okapi BM25 over tool documents, scored with numpy (k1 = 1.2, b = 0.75, Lucene idf).

Postings are three flat arrays sorted by term (document ids, term frequencies, and each term's
bounds), built from C arrays rather than Python lists: at 50,000 tools the lists held millions of
int objects whose freed memory the process kept.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

K1, B = 1.2, 0.75


class BM25:
    def __init__(self, docs: Iterable[Sequence[str]]) -> None:
        vocabulary: dict[str, int] = {}
        terms, ids, freqs, lengths = array("i"), array("i"), array("f"), array("f")
        for i, doc in enumerate(docs):
            lengths.append(len(doc))
            for term, tf in Counter(doc).items():
                terms.append(vocabulary.setdefault(term, len(vocabulary)))
                ids.append(i)
                freqs.append(tf)
        self.n = len(lengths)
        length = np.frombuffer(lengths, dtype=np.float32) if self.n else np.zeros(0, dtype=np.float32)
        avg = float(length.mean()) if self.n else 1.0
        self._norm = (K1 * (1 - B + B * length / max(avg, 1e-9))).astype(np.float32)
        term_of = np.frombuffer(terms, dtype=np.int32) if len(terms) else np.zeros(0, dtype=np.int32)
        order = np.argsort(term_of, kind="stable")
        self._ids = (np.frombuffer(ids, dtype=np.int32) if len(ids) else np.zeros(0, dtype=np.int32))[order]
        self._tfs = (np.frombuffer(freqs, dtype=np.float32) if len(freqs) else np.zeros(0, dtype=np.float32))[
            order
        ]
        self._bounds = np.searchsorted(term_of[order], np.arange(len(vocabulary) + 1)).astype(np.int64)
        df = np.diff(self._bounds).astype(np.float64)
        self._idf = np.log(1 + (self.n - df + 0.5) / (df + 0.5)).astype(np.float32)
        self._vocabulary = vocabulary

    def scores(self, query: Sequence[str]) -> npt.NDArray[np.float32]:
        """BM25 score of every document for the query terms (zeros where nothing matches)."""
        out = np.zeros(self.n, dtype=np.float32)
        for term, qtf in Counter(query).items():
            tid = self._vocabulary.get(term)
            if tid is None:
                continue
            start, end = self._bounds[tid], self._bounds[tid + 1]
            ids, tfs = self._ids[start:end], self._tfs[start:end]
            out[ids] += qtf * self._idf[tid] * tfs * (K1 + 1) / (tfs + self._norm[ids])
        return out
