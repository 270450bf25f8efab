"""The gateway's tool index: lexical (BM25) and dense (fastembed) retrieval, fused.

Pure code over in-memory arrays, with the embedding model behind a small protocol so that tests of
ranking logic can run without it and everything else uses the real model.
"""
