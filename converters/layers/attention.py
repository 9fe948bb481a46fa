"""multi_head_attention -> ONNX (MatMul projections, Softmax); not recognised on import."""

from __future__ import annotations

import math

import numpy as np

import axonnx.builders.recurrent  # noqa: F401  (registers the layer ops emitted on import)
from axonnx.converters.layers._spatial import (
    ints,
    unsupported,
)
from axonnx.converters.onnx_writer import (
    Param,
    Writer,
    exporter,
    layer_name,
)
from axonnx.node import Node

__all__: list[str] = []


def _heads(w: Writer, x: str, heads: int, perm: list[int]) -> str:
    """(batch, seq, dim) -> (batch, seq, heads, dim / heads), then permuted."""
    split = w.op("Reshape", [x, *ints(w, [0, 0, heads, -1])])[0]
    return w.op("Transpose", [split], perm=perm)[0]


def _project(w: Writer, x: str, kernel: Param, bias: Param | None, name: str) -> str:
    y = w.op("MatMul", [x, w.param(kernel)], name=name)[0]
    return y if bias is None else w.op("Add", [y, w.param(bias)])[0]


@exporter("multi_head_attention")
def _attention(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: MatMul projections, per-head MatMul, Softmax, MatMul; masks with Where.

    MatMul projections, per-head MatMul / Softmax / MatMul, masks with Where."""
    heads, name = int(node.options["num_heads"]), layer_name(w, node)
    dim = params["q_kernel"].value.shape[1]
    proj = {
        p: _project(w, inputs[i], params[f"{p}_kernel"], params.get(f"{p}_bias"), f"{name}.{p}")
        for i, p in enumerate("qkv")
    }
    q = _heads(w, proj["q"], heads, [0, 2, 1, 3])
    k = _heads(w, proj["k"], heads, [0, 2, 3, 1])
    v = _heads(w, proj["v"], heads, [0, 2, 1, 3])
    logits = w.op("Mul", [w.op("MatMul", [q, k])[0], w.scalar(1 / math.sqrt(dim // heads))])[0]
    allowed = _mask(w, node, inputs)
    if allowed is not None:
        lowest = w.scalar(-0.7 * float(np.finfo(np.dtype(w.compute)).max))
        logits = w.op("Where", [allowed, logits, lowest])[0]
    weights = w.op("Softmax", [logits], axis=-1)[0]
    merged = w.op("Transpose", [w.op("MatMul", [weights, v])[0]], perm=[0, 2, 1, 3])[0]
    merged = w.op("Reshape", [merged, *ints(w, [0, 0, -1])])[0]
    return _project(w, merged, params["o_kernel"], params.get("o_bias"), f"{name}.o")


def _mask(w: Writer, node: Node, inputs: list) -> str | None:
    mask = None
    if node.options.get("has_mask"):
        mask = inputs[3]
        if node.parents[3].dtype != "bool":
            mask = w.op("Cast", [mask], to=9)[0]
    if not node.options.get("causal"):
        return mask
    q_len, k_len = node.parents[0].shape[1], node.parents[1].shape[1]
    if q_len is None or k_len is None:
        raise unsupported(w, node, "causal attention needs known sequence lengths")
    causal = w.constant(np.tril(np.ones((q_len, k_len), bool)), "causal")
    return causal if mask is None else w.op("And", [mask, causal])[0]
