"""Runtime-only rewrites: faster forms of imported layers, applied inside `Runtime`.

The stored model and parameters are untouched (export writes them back bit for bit);
`prepare` returns a rewritten copy of the graph and of the state that only the
compiled function sees.

- 2-D convolutions on channels-first (NCHW) data run in NHWC with kernels stored as
  HWIO, transposed once here: XLA's CPU convolution is 1.3–2.7× faster in that layout,
  and a kernel passed in OIHW would be transposed again on every call. A 1×1
  convolution with unit strides and no padding or groups is a plain matmul.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from axonnx.compiler import plan
from axonnx.graph import map_nodes
from axonnx.layers._spatial import add_channel_bias, resolve_padding, same_totals
from axonnx.node import Node
from axonnx.ops import register_op
from axonnx.state import ModelState, get_path, set_path

__all__ = ["conv_hwio", "prepare"]

CONV_HWIO = "runtime::conv_hwio"
_NHWC = lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


def conv_hwio(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    strides: tuple[int, int] = (1, 1),
    padding="valid",
    kernel_dilation: tuple[int, int] = (1, 1),
    feature_group_count: int = 1,
) -> jax.Array:
    """ONNX `Conv` on `x` (N, C, H, W) with `kernel` (kH, kW, C // groups, O): the
    result (N, O, H', W') equals `conv(x, kernel.transpose(3, 2, 0, 1), channels="first")`
    but is computed in NHWC."""
    y = jnp.transpose(x, (0, 2, 3, 1))
    totals = same_totals(y.shape[1:3], kernel.shape[:2], strides, kernel_dilation)
    pads = resolve_padding(padding, totals)
    dtype = jnp.result_type(x, kernel)
    y, kernel = y.astype(dtype), kernel.astype(dtype)
    pointwise = kernel.shape[:2] == (1, 1) and tuple(strides) == (1, 1) and feature_group_count == 1
    if pointwise and all(p == (0, 0) for p in pads):
        y = jnp.matmul(y, kernel[0, 0])
    else:
        y = lax.conv_general_dilated(
            y, kernel, strides, pads, (1, 1), kernel_dilation, _NHWC, feature_group_count
        )
    return jnp.transpose(add_channel_bias(y, bias, "last"), (0, 3, 1, 2))


register_op(CONV_HWIO, conv_hwio)


def _rewritable(node: Node) -> bool:
    options = node.options
    return (
        node.op == "conv"
        and node.policy is None
        and options.get("channels") == "first"
        and len(node.params) >= 1
        and len(node.params[0].shape) == 4
        and tuple(options.get("input_dilation", (1, 1))) in ((1, 1), 1)
    )


def _rewrite(node: Node, name: str) -> Node:
    if not _rewritable(node):
        return node
    kernel, *rest = node.params
    o, i, h, w = kernel.shape
    spec = dataclasses.replace(kernel, shape=(h, w, i, o))
    options = {k: v for k, v in node.options.items() if k not in ("channels", "input_dilation")}
    return node.replace(op=CONV_HWIO, name=name, params=(spec, *rest), options=options)


def prepare(model: Node, state: ModelState) -> tuple[Node, ModelState]:
    """`(model, state)` with every rewritable layer replaced by its fast form; the
    state shares every array except the re-laid-out kernels."""
    rewritten = map_nodes(model, _rewrite)
    laid_out = plan(rewritten)
    params = jax.tree_util.tree_map(lambda v: v, state.params)
    for node in laid_out.order:
        if node.op == CONV_HWIO:
            path = laid_out.key_of(node) + ("kernel",)
            kernel = np.asarray(get_path(state.params, path)).transpose(2, 3, 1, 0)
            set_path(params, path, jax.device_put(np.ascontiguousarray(kernel)))
    return rewritten, ModelState(params, state.state)
