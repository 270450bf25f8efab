"""The dense ranking's candidates at scale: an int8 scan of every vector in ONNX Runtime.

A catalogue's unit vectors are stored once more as int8 (one scale per vector, symmetric), inside a
small ONNX graph whose weights ONNX Runtime packs once for its integer matrix kernels:

    query -> DynamicQuantizeLinear -> MatMulInteger(int8 vectors) -> x scales -> - penalty -> TopK

A 50,000 x 384 scan reads 19 MB instead of float32's 77 MB, in kernels that multiply bytes; the
``k`` it returns are re-ranked exactly in float32 by the caller (index/vectors.py). Measured on the
benchmark's 50,000 corpus tools: the exact top 100 is kept whole (docs/design/routing.md).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from toolmesh.gateway.index import onnx_wire
from toolmesh.gateway.index.onnx_wire import FLOAT, INT64, Node

Vectors = npt.NDArray[np.float32]
#: Levels each side of zero a row is quantized to: 7 bits, not 8. On x86 without VNNI, ONNX
#: Runtime's uint8 x int8 kernels add pairs of products in 16 bits (``pmaddubsw``), which saturate
#: when 255 x 127 twice exceeds 32,767: with 8-bit rows, a tool ranked 4th fell out of the first 15
#: (tests/unit/gateway/test_vectors.py); 255 x 63 twice fits. ONNX Runtime's own quantizer calls
#: this ``reduce_range``. The exact re-ranking of the candidates makes up the lost bit.
LEVELS = 63
BLOCK = 4_096  # rows converted at a time
#: Threads of the scan's kernels (the router searches on one thread; these are ONNX Runtime's).
THREADS = 2


def quantize(vectors: Vectors) -> tuple[npt.NDArray[np.int8], Vectors]:
    """The rows as the columns of an int8 (d x n) matrix in [-LEVELS, LEVELS], and each row's
    scale: ``vectors[i] ~= columns[:, i] * scales[i]`` (a zero row keeps scale 1). Converted in
    blocks, so no float copy of a large catalogue is made."""
    rows, dimensions = vectors.shape
    peak = np.abs(vectors).max(axis=1) if rows else np.zeros(0, np.float32)
    scales = np.where(peak > 0, peak / LEVELS, 1.0).astype(np.float32)
    columns = np.empty((dimensions, rows), dtype=np.int8)
    for start in range(0, rows, BLOCK):
        block = vectors[start : start + BLOCK] / scales[start : start + BLOCK, None]
        np.clip(np.rint(block, out=block), -LEVELS, LEVELS, out=block)
        columns[:, start : start + BLOCK] = block.T
    return columns, scales


def graph(columns: npt.NDArray[np.int8], scales: Vectors) -> bytes:
    """The scan of :func:`quantize`'s result as a serialized ONNX model: inputs ``query`` (1 x d),
    ``penalty`` (n) and ``k`` (1), output ``ids`` (1 x k, unsorted), the k best of
    ``query . row - penalty``."""
    dimensions = columns.shape[0]
    nodes = [
        Node("DynamicQuantizeLinear", ["query"], ["q8", "q_scale", "q_zero"]),
        Node("MatMulInteger", ["q8", "rows", "q_zero"], ["dots"]),
        Node("Cast", ["dots"], ["dots_f"], {"to": FLOAT}),
        Node("Mul", ["dots_f", "q_scale"], ["scaled"]),
        Node("Mul", ["scaled", "scales"], ["cosines"]),
        Node("Sub", ["cosines", "penalty"], ["scores"]),
        Node("TopK", ["scores", "k"], ["best", "ids"], {"axis": -1, "largest": 1, "sorted": 0}),
    ]
    return onnx_wire.model(
        nodes,
        inputs=[
            onnx_wire.value_info("query", FLOAT, [1, dimensions]),
            onnx_wire.value_info("penalty", FLOAT, [len(scales)]),
            onnx_wire.value_info("k", INT64, [1]),
        ],
        outputs=[onnx_wire.value_info("ids", INT64, [1, "k"])],
        initializers=[
            onnx_wire.tensor("rows", columns),
            onnx_wire.tensor("scales", scales),
        ],
        name="toolmesh-int8-scan",
    )


class Int8Scan:
    """The ``k`` best rows of a fixed matrix of unit vectors for a query, from their int8 copy."""

    def __init__(self, vectors: Vectors, threads: int = THREADS) -> None:
        import onnxruntime as ort

        columns, scales = quantize(np.asarray(vectors, dtype=np.float32))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Threads that spin after a scan take the core the embedder and event loop need next.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            graph(columns, scales), options, providers=["CPUExecutionProvider"]
        )
        self.rows = len(scales)
        self._no_penalty = np.zeros(self.rows, dtype=np.float32)

    def top(self, query: Vectors, k: int, penalty: Vectors | None = None) -> npt.NDArray[np.int64]:
        """The ``k`` (at most every row) best by int8 dot product less ``penalty``, in no order."""
        k = min(k, self.rows)
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        feed = {
            "query": np.asarray(query, dtype=np.float32).reshape(1, -1),
            "penalty": self._no_penalty if penalty is None else np.asarray(penalty, dtype=np.float32),
            "k": np.array([k], dtype=np.int64),
        }
        ids: npt.NDArray[np.int64] = self._session.run(["ids"], feed)[0][0]
        return ids
