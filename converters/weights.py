"""Weights and constants: which initializers of an ONNX graph are trainable.

An initializer is a trainable weight when training could change it usefully: a float
tensor that a gradient reaches. Everything else is a constant: integer and boolean
tensors (shape tensors, position ids, token tables, masks), values an op needs while
compiling (shapes, scales, axes), float tensors used only where no gradient flows
(compared, cast to integers, rounded, measured by `Shape`), values the import folded,
and float scalars outside a weight slot (a scaling factor, an epsilon).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import onnx

from axonnx.converters.registry import resolve
from axonnx.converters.safety_tensors import tensor_bytes

__all__ = ["FLOATS", "count_initializers", "initializer_roles"]

FLOATS = {
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.DOUBLE,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
}

# ops whose outputs carry no gradient to any input: a float fed only to them is data
_NO_GRADIENT = {
    "Shape",
    "Size",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "IsNaN",
    "IsInf",
    "Sign",
    "Floor",
    "Ceil",
    "Round",
    "ArgMax",
    "ArgMin",
    "NonZero",
    "EyeLike",
}


def initializer_roles(
    graph: onnx.GraphProto, opsets: Mapping[str, int], constants: Iterable[str] = ()
) -> dict[str, str]:
    """`{name: "param"}` for every initializer of `graph` that is a trainable weight
    (see the module docstring); the others are constants.

    Args:
        graph: the ONNX graph (its nodes say how each initializer is used).
        opsets: the model's opsets by domain (`""` for the default domain).
        constants: names known to be constants (values folded at import).
    """
    static, weight, used, differentiable = set(), set(), set(), set()
    for node in graph.node:
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        spec, _ = resolve(domain, node.op_type, opsets.get(domain, 0))
        for position, name in enumerate(node.input):
            used.add(name)
            if spec is not None and position in spec.static_inputs:
                static.add(name)
            elif spec is not None and position in spec.weight_inputs:
                weight.add(name)
            if _carries_gradient(node):
                differentiable.add(name)
    excluded = static | set(constants)
    roles = {}
    for tensor in graph.initializer:
        name = tensor.name
        if tensor.data_type not in FLOATS or name in excluded:
            continue
        if name in used and name not in differentiable:
            continue
        if name in weight or math.prod(tensor.dims) > 1:
            roles[name] = "param"
    return roles


def _carries_gradient(node: onnx.NodeProto) -> bool:
    if node.op_type in _NO_GRADIENT:
        return False
    if node.op_type == "Cast":
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        return to in FLOATS
    return True


def count_initializers(graph: onnx.GraphProto, roles: Mapping[str, str]) -> dict[str, int]:
    """Elements and bytes of `graph`'s initializers, trainable weights and constants
    apart: `{"trainable", "trainable_bytes", "constants", "constants_bytes"}`; the two
    counts add up to every element the file's initializers hold."""
    counts = {"trainable": 0, "trainable_bytes": 0, "constants": 0, "constants_bytes": 0}
    for tensor in graph.initializer:
        size = math.prod(tensor.dims)
        nbytes = 8 * size if tensor.data_type == onnx.TensorProto.STRING else None
        nbytes = tensor_bytes(tensor, size) if nbytes is None else nbytes
        kind = "trainable" if roles.get(tensor.name) == "param" else "constants"
        counts[kind] += size
        counts[f"{kind}_bytes"] += nbytes
    return counts
