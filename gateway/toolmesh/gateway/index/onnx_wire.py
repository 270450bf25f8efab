"""The few ONNX messages a small graph needs, written in protobuf's wire format.

The gateway builds one graph at run time (the int8 scan, index/quantized.py), whose weights are
the catalogue's vectors. The ``onnx`` package that would build it is removed from the gateway's
image (33 MB, used only to derive the model at build time: docs/design/0008), so the handful of
messages are encoded here: ``ModelProto``, ``GraphProto``, ``NodeProto``, ``TensorProto`` and
``ValueInfoProto``, with the field numbers of onnx/onnx.proto. Nothing is parsed; ONNX Runtime reads
what this writes, and a test checks it with ``onnx``'s own checker (docs/design/0005).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

#: TensorProto.DataType
FLOAT, INT8, INT64 = 1, 3, 7
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int8): INT8, np.dtype(np.int64): INT64}
#: AttributeProto.AttributeType
_INT = 2


#: A message being written: its parts in order, joined once at the end (a tensor's bytes are
#: never copied before that).
Parts = list["bytes | memoryview"]


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # protobuf's int64: two's complement, ten bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _message(number: int, parts: Parts) -> Parts:
    """A length-delimited field (a nested message, a string or bytes) holding ``parts``."""
    return [_key(number, 2) + _varint(sum(len(p) for p in parts)), *parts]


def _str(number: int, value: str) -> Parts:
    return _message(number, [value.encode()])


@dataclass(frozen=True)
class Node:
    op_type: str
    inputs: Sequence[str]
    outputs: Sequence[str]
    #: Integer attributes (all this module's graphs need).
    ints: dict[str, int] = field(default_factory=dict)

    def wire(self) -> Parts:
        out: Parts = [p for name in self.inputs for p in _str(1, name)]
        out += [p for name in self.outputs for p in _str(2, name)]
        out += _str(4, self.op_type)
        for name, value in self.ints.items():
            out += _message(5, [*_str(1, name), _int(3, value), _int(20, _INT)])
        return out


def tensor(name: str, array: np.ndarray) -> Parts:
    """A TensorProto holding ``array`` (float32, int8 or int64) as raw little-endian bytes."""
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    out: Parts = [_int(1, d) for d in data.shape]
    out += [_int(2, _DTYPES[np.dtype(data.dtype.type)]), *_str(8, name)]
    return out + _message(9, [data.data.cast("B")])


def value_info(name: str, elem_type: int, shape: Sequence[int | str]) -> Parts:
    """A ValueInfoProto: a graph input or output, its element type and shape (a str is a named
    dimension, left free)."""
    dims: Parts = []
    for d in shape:
        dims += _message(1, _str(2, d) if isinstance(d, str) else [_int(1, d)])
    tensor_type = [_int(1, elem_type), *_message(2, dims)]
    return [*_str(1, name), *_message(2, _message(1, tensor_type))]


def model(
    nodes: Iterable[Node],
    inputs: Iterable[Parts],
    outputs: Iterable[Parts],
    initializers: Iterable[Parts],
    *,
    name: str,
    opset: int = 17,
    ir_version: int = 8,
) -> bytes:
    """A serialized ModelProto of one graph in the default domain."""
    graph: Parts = []
    for node in nodes:
        graph += _message(1, node.wire())
    graph += _str(2, name)
    for initializer in initializers:
        graph += _message(5, initializer)
    for value in inputs:
        graph += _message(11, value)
    for value in outputs:
        graph += _message(12, value)
    opset_import = [*_str(1, ""), _int(2, opset)]
    parts = [_int(1, ir_version), *_str(2, "toolmesh"), *_message(7, graph), *_message(8, opset_import)]
    return b"".join(parts)
