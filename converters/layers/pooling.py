"""Pooling and resize layers -> ONNX (MaxPool, AveragePool, LpPool, their global forms,
adaptive pooling with known sizes, Resize). Not recognised on import.
"""

from __future__ import annotations

import numpy as np

import axonnx.builders.conv  # noqa: F401  (registers the layer ops emitted on import)
from axonnx.converters.layers._spatial import (
    ints,
    padding_attrs,
    per_axis,
    spatial_sizes,
    unsupported,
)
from axonnx.converters.onnx_writer import (
    Writer,
    channels_back,
    channels_first,
    exporter,
    layer_name,
    outputs_of,
    rank_of,
)
from axonnx.node import Node

__all__: list[str] = []


def _pool_attrs(w: Writer, node: Node, n: int) -> dict:
    window = per_axis(node.options["kernel_size"], n)
    strides = node.options.get("strides")
    attrs = {
        "kernel_shape": window,
        "strides": window if strides is None else per_axis(strides, n),
        **padding_attrs(node.options.get("padding", "valid"), n),
    }
    dilations = per_axis(node.options.get("dilations", 1), n)
    ceil = int(bool(node.options.get("ceil_mode", False)))
    newest = {"max_pool": 10, "avg_pool": 19, "lp_pool": 18}[node.op]
    if (any(d != 1 for d in dilations) or ceil) and w.opset < newest:
        raise unsupported(
            w, node, f"dilations or ceil_mode need opset {newest} or newer, got {w.opset}"
        )
    if any(d != 1 for d in dilations):
        attrs["dilations"] = dilations
    if ceil:
        attrs["ceil_mode"] = ceil
    return attrs


@exporter("max_pool", "avg_pool", "lp_pool")
def _pool(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: MaxPool, AveragePool, LpPool (integer p)."""
    rank = rank_of(node)
    attrs = _pool_attrs(w, node, rank - 2)
    op_type = {"max_pool": "MaxPool", "avg_pool": "AveragePool", "lp_pool": "LpPool"}[node.op]
    if node.op == "avg_pool":
        attrs["count_include_pad"] = int(bool(node.options.get("count_include_pad", False)))
    if node.op == "lp_pool":
        attrs["p"] = _integer_norm(w, node)
    x = channels_first(w, inputs[0], node)
    first = node.options.get("channels") == "first"
    y = w.op(op_type, [x], outputs_of(node, first), name=layer_name(w, node), **attrs)[0]
    return channels_back(w, y, node, rank)


def _integer_norm(w: Writer, node: Node) -> int:
    norm = float(node.options.get("norm", 2))
    if norm != int(norm):
        raise unsupported(w, node, f"ONNX LpPool takes an integer p, got norm={norm}")
    return int(norm)


@exporter("adaptive_avg_pool", "adaptive_max_pool", "adaptive_lp_pool")
def _adaptive(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: MaxPool / AveragePool / LpPool when the output size divides the input."""
    sizes = spatial_sizes(w, node)
    out = per_axis(node.options["output_size"], len(sizes))
    if any(s % o for s, o in zip(sizes, out)):
        raise unsupported(
            w,
            node,
            f"output_size {tuple(out)} must divide the input's spatial sizes "
            f"{tuple(sizes)} (ONNX has no adaptive pooling)",
        )
    window = [s // o for s, o in zip(sizes, out)]
    pooled = node.replace(
        op=node.op.removeprefix("adaptive_"),
        options={
            **{k: v for k, v in node.options.items() if k != "output_size"},
            "kernel_size": window,
            "strides": window,
        },
        id=node.id,
    )
    return _pool(w, pooled, inputs, params)


@exporter("global_avg_pool", "global_max_pool", "global_lp_pool")
def _global_pool(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: ReduceMean, ReduceMax, ReduceL1/ReduceL2 (other norms: Abs/Pow/ReduceSum/Pow)."""
    rank = rank_of(node)
    axes = (
        list(range(1, rank - 1))
        if node.options.get("channels", "last") == "last"
        else list(range(2, rank))
    )
    keep = bool(node.options.get("keep_axes", False))
    if node.op == "global_avg_pool":
        return w.reduce("ReduceMean", inputs[0], axes, keep)
    if node.op == "global_max_pool":
        return w.reduce("ReduceMax", inputs[0], axes, keep)
    norm = float(node.options.get("norm", 2))
    if norm in (1.0, 2.0):
        return w.reduce("ReduceL1" if norm == 1 else "ReduceL2", inputs[0], axes, keep)
    powered = w.op("Pow", [w.op("Abs", inputs)[0], w.scalar(norm)])[0]
    summed = w.reduce("ReduceSum", powered, axes, keep)
    return w.op("Pow", [summed, w.scalar(1 / norm)], name=layer_name(w, node))[0]


_RESIZE_MODES = {
    "nearest": {"mode": "nearest", "nearest_mode": "round_prefer_ceil"},
    "linear": {"mode": "linear"},
    "cubic": {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1},
}


@exporter("resize")
def _resize(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Resize (half_pixel; nearest round_prefer_ceil, linear, cubic a=-0.5)."""
    rank = rank_of(node)
    n = rank - 2
    size = np.array(per_axis(node.options["size"], n), np.int64)
    x = channels_first(w, inputs[0], node)
    attrs = dict(_RESIZE_MODES[node.options.get("method", "nearest")])
    # Full-rank sizes: onnxruntime rejects `sizes` with the `axes` attribute (opset 18+).
    leading = w.op("Slice", [w.op("Shape", [x])[0], *ints(w, [0], [2])])[0]
    sizes = w.op("Concat", [leading, w.constant(size, "sizes")], axis=0)[0]
    y = w.op(
        "Resize",
        [x, "", "", sizes],
        name=layer_name(w, node),
        coordinate_transformation_mode="half_pixel",
        **attrs,
    )[0]
    return channels_back(w, y, node, rank)
