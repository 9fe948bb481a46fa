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
from axonnx.policy import cast_floats
from axonnx.state import ModelState, get_path, set_path

__all__ = ["ENTRIES_LIMIT", "TAPS_LIMIT", "conv_hwio", "few_taps", "prepare"]

CONV_HWIO = "runtime::conv_hwio"
_NHWC = lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
# A convolution runs as shifted slices when each output sums at most TAPS_LIMIT products
# (kH · kW · C/groups, C/groups ≥ 1) and the kernel has at most ENTRIES_LIMIT entries.
# Measured with XNNPACK convolutions, NHWC (µs, XLA → slices): 1→8 ch 3×3 at 28², batch 8:
# 89 → 14; 3→64 3×3 at 224², batch 1: 1246 → 1034; 4→16 3×3, batch 8: 219 → 95; but
# 8→16 3×3 (72 products) 68 → 91, 4→64 3×3 (2304 entries) 731 → 877.
TAPS_LIMIT = 36
ENTRIES_LIMIT = 2048


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
    elif few_taps(kernel.shape):
        y = _conv_taps(y, kernel, strides, pads, kernel_dilation, feature_group_count)
    else:
        y = lax.conv_general_dilated(
            y, kernel, strides, pads, (1, 1), kernel_dilation, _NHWC, feature_group_count
        )
    return jnp.transpose(add_channel_bias(y, bias, "last"), (0, 3, 1, 2))


def few_taps(kernel_shape: tuple[int, ...]) -> bool:
    """Whether a (kH, kW, C/groups, O) convolution runs as shifted slices (see TAPS_LIMIT)."""
    kh, kw, per_group, _ = kernel_shape
    products = kh * kw * per_group
    return kh * kw > 1 and products <= TAPS_LIMIT and int(np.prod(kernel_shape)) <= ENTRIES_LIMIT


def _conv_taps(y, kernel, strides, pads, dilation, groups: int) -> jax.Array:
    """NHWC convolution as Σ over kernel taps of (strided input slice × kernel row)."""
    kh, kw, per_group, out = kernel.shape
    y = lax.pad(y, jnp.zeros((), y.dtype), [(0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0)])
    n, height, width, channels = y.shape
    rows = (height - (kh - 1) * dilation[0] - 1) // strides[0] + 1
    cols = (width - (kw - 1) * dilation[1] - 1) // strides[1] + 1
    total = None
    for i in range(kh):
        for j in range(kw):
            top, left = i * dilation[0], j * dilation[1]
            bottom, right = top + (rows - 1) * strides[0] + 1, left + (cols - 1) * strides[1] + 1
            window = lax.slice(
                y, (0, top, left, 0), (n, bottom, right, channels), (1, strides[0], strides[1], 1)
            )
            for c in range(per_group):  # input channel c of every group, repeated per output
                row = kernel[i, j, c][None, None, None, :]
                term = jnp.repeat(window[..., c::per_group], out // groups, axis=-1) * row
                total = term if total is None else total + term
    return total


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
    state shares every array except the re-laid-out kernels and the parameters of
    layers under a policy, stored in its compute dtype."""
    rewritten = map_nodes(model, _rewrite)
    laid_out = plan(rewritten)
    params = jax.tree_util.tree_map(lambda v: v, state.params)
    for node in laid_out.order:
        if node.op == CONV_HWIO:
            path = laid_out.key_of(node) + ("kernel",)
            kernel = np.asarray(get_path(state.params, path)).transpose(2, 3, 1, 0)
            set_path(params, path, jax.device_put(np.ascontiguousarray(kernel)))
        elif node.policy is not None and node.op != "param":
            _cast_to_compute(node, laid_out.key_of(node), params)
    return rewritten, ModelState(params, state.state)


def _cast_to_compute(node: Node, key: tuple[str, ...], params: dict) -> None:
    """Cast a policied layer's float parameters to its compute dtype once, here, rather
    than inside the compiled function on every call (BERT-base with bfloat16 dense
    layers at batch 1: 111 ms → 39 ms). The same cast the layer would make."""
    for spec in node.params:
        value = get_path(params, key + (spec.name,))
        if value is not None:
            set_path(params, key + (spec.name,), cast_floats(value, node.policy.compute))
