"""Combinators and shape layers (add, multiply, subtract, concatenate, stack, split,
pad, cond, flatten, reshape, transpose) -> ONNX.
"""

from __future__ import annotations

import numpy as np

from axonnx.converters.onnx_writer import (
    Writer,
    exporter,
    layer_name,
)
from axonnx.node import Node

__all__: list[str] = []


@exporter("add", "multiply")
def _variadic(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Add / Mul (Sum, or a chain of Mul, for more than two inputs)."""
    op_type = "Add" if node.op == "add" else "Mul"
    if len(inputs) > 2:
        op_type = "Sum" if node.op == "add" else op_type
    if op_type == "Mul" and len(inputs) > 2:
        result = inputs[0]
        for other in inputs[1:]:
            result = w.op("Mul", [result, other])[0]
        return result
    return w.op(op_type, inputs, name=layer_name(w, node))[0]


@exporter("subtract")
def _subtract(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Sub."""
    return w.op("Sub", inputs, name=layer_name(w, node))[0]


@exporter("concatenate")
def _concatenate(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Concat."""
    return w.op("Concat", inputs, name=layer_name(w, node), axis=int(node.options["axis"]))[0]


@exporter("stack")
def _stack(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Unsqueeze each input + Concat."""
    axes = w.constant(np.array([int(node.options["axis"])], np.int64), "axes")
    parts = [w.op("Unsqueeze", [x, axes])[0] for x in inputs]
    return w.op("Concat", parts, name=layer_name(w, node), axis=int(node.options["axis"]))[0]


@exporter("split")
def _split(w: Writer, node: Node, inputs: list, params: dict) -> list[str]:
    """ONNX: Split with `split` sizes as an input."""
    sections, axis = int(node.options["sections"]), int(node.options["axis"])
    size = node.parents[0].shape[axis] // sections
    sizes = w.constant(np.full(sections, size, np.int64), "split")
    return w.op("Split", [inputs[0], sizes], sections, name=layer_name(w, node), axis=axis)


@exporter("pad")
def _pad(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Pad (constant, reflect, edge; wrap from opset 19)."""
    pairs = [(int(lo), int(hi)) for lo, hi in node.options["padding"]]
    mode = node.options.get("pad_mode", "constant")
    if mode == "wrap" and w.opset < 19:
        from axonnx.errors import UnsupportedOpError

        raise UnsupportedOpError(
            f"{w.plan.where(node)}: pad mode 'wrap' needs ONNX Pad from opset 19, "
            f"exporting at opset {w.opset}. Pass opset=19 or newer."
        )
    pads = w.constant(np.array([p[0] for p in pairs] + [p[1] for p in pairs], np.int64), "pads")
    args = [inputs[0], pads]
    if mode == "constant":
        dtype = node.parents[0].dtype or "float32"
        args.append(w.constant(np.asarray(node.options.get("value", 0.0), dtype), "value"))
    return w.op("Pad", args, name=layer_name(w, node), mode=mode)[0]


@exporter("cond")
def _cond(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Where."""
    return w.op("Where", inputs, name=layer_name(w, node))[0]


@exporter("flatten")
def _flatten(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Flatten(axis=1)."""
    return w.op("Flatten", inputs, name=layer_name(w, node), axis=1)[0]


@exporter("reshape")
def _reshape(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Reshape (batch dimension kept with 0)."""
    shape = w.constant(np.array([0, *node.options["shape"]], np.int64), "shape")
    return w.op("Reshape", [inputs[0], shape], name=layer_name(w, node))[0]


@exporter("transpose")
def _transpose(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Transpose."""
    perm = [int(p) for p in node.options["permutation"]]
    return w.op("Transpose", inputs, name=layer_name(w, node), perm=perm)[0]
