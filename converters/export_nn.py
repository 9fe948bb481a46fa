"""How convolution, pooling, resize, recurrent and attention layers are written as
ONNX nodes. Channels-last layers are wrapped in transposes to ONNX's channels-first
layout; recurrent layers in transposes to ONNX's sequence-major layout."""

from __future__ import annotations

import math

import numpy as np

from axonnx.converters.export_layers import (
    channels_back,
    channels_first,
    layer_name,
    outputs_of,
    rank_of,
)
from axonnx.converters.onnx_writer import Param, Writer, exporter
from axonnx.errors import UnsupportedOpError
from axonnx.layers._spatial import padding_pairs, resolve_padding
from axonnx.node import Node

__all__: list[str] = []


def _per_axis(value, n: int) -> list[int]:
    return [int(value)] * n if isinstance(value, int) else [int(v) for v in value]


def _unsupported(w: Writer, node: Node, why: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"{w.plan.where(node)}: cannot export to ONNX: {why}")


def _padding_attrs(padding, n: int) -> dict:
    if isinstance(padding, str) and padding.lower() == "valid":
        return {"pads": [0] * 2 * n}
    if isinstance(padding, str):
        return {"auto_pad": "SAME_UPPER" if padding.lower() == "same" else "SAME_LOWER"}
    pairs = padding_pairs(padding, n)
    return {"pads": [p[0] for p in pairs] + [p[1] for p in pairs]}


def _spatial_sizes(w: Writer, node: Node) -> list[int]:
    shape = node.parents[0].shape
    spatial = shape[2:] if node.options.get("channels") == "first" else shape[1:-1]
    if any(d is None for d in spatial):
        raise _unsupported(w, node, f"it needs known spatial sizes, got input shape {shape}")
    return list(spatial)


# --- convolutions ----------------------------------------------------------------------


def _conv_node(w: Writer, node: Node, x: str, kernel: str, bias: str | None, **attrs) -> str:
    args = [x, kernel] + ([bias] if bias else [])
    first = node.options.get("channels") == "first"
    return w.op("Conv", args, outputs_of(node, first), name=layer_name(w, node), **attrs)[0]


def _check_input_dilation(w: Writer, node: Node, n: int) -> None:
    if any(d != 1 for d in _per_axis(node.options.get("input_dilation", 1), n)):
        raise _unsupported(w, node, "input_dilation != 1 has no ONNX Conv form")


@exporter("conv", "depthwise_conv")
def _conv(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: Conv (depthwise: group = input channels; Transposes if channels-last)."""
    kernel, bias = params["kernel"], params.get("bias")
    rank = kernel.value.ndim
    n = rank - 2
    _check_input_dilation(w, node, n)
    groups = node.options.get("feature_group_count", 1)
    if node.op == "depthwise_conv":
        groups = kernel.value.shape[0] // int(node.options.get("channel_multiplier", 1))
    y = _conv_node(
        w,
        node,
        channels_first(w, inputs[0], node),
        w.param(kernel),
        w.param(bias) if bias else None,
        group=int(groups),
        strides=_per_axis(node.options.get("strides", 1), n),
        dilations=_per_axis(node.options.get("kernel_dilation", 1), n),
        **_padding_attrs(node.options.get("padding", "valid"), n),
    )
    return channels_back(w, y, node, rank)


@exporter("separable_conv2d", "separable_conv3d")
def _separable(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: One depthwise Conv per spatial axis."""
    n = 2 if node.op == "separable_conv2d" else 3
    strides = _per_axis(node.options.get("strides", 1), n)
    padding = node.options.get("padding", "valid")
    pairs = None if isinstance(padding, str) else padding_pairs(padding, n)
    x = channels_first(w, inputs[0], node)
    channels = int(params["kernel_0"].value.shape[0])
    for axis in range(n):
        kernel, bias = params[f"kernel_{axis}"], params.get(f"bias_{axis}")
        step = [strides[a] if a == axis else 1 for a in range(n)]
        pads = padding if pairs is None else [pairs[a] if a == axis else (0, 0) for a in range(n)]
        in_channels = _channel_count(node) if axis == 0 else channels
        x = w.op(
            "Conv",
            [x, w.param(kernel)] + ([w.param(bias)] if bias else []),
            name=f"{layer_name(w, node)}.{axis}",
            group=in_channels,
            strides=step,
            **_padding_attrs(pads, n),
        )[0]
    return channels_back(w, x, node, n + 2)


def _channel_count(node: Node) -> int:
    shape = node.parents[0].shape
    return int(shape[1] if node.options.get("channels") == "first" else shape[-1])


@exporter("conv_transpose")
def _conv_transpose(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: ConvTranspose with explicit pads and output_padding."""
    kernel, bias = params["kernel"], params.get("bias")
    rank = kernel.value.ndim
    n = rank - 2
    strides = _per_axis(node.options.get("strides", 1), n)
    dilations = _per_axis(node.options.get("kernel_dilation", 1), n)
    extra = _per_axis(node.options.get("output_padding", 0), n)
    edges = [(k - 1) * d for k, d in zip(kernel.value.shape[2:], dilations)]
    padding = node.options.get("padding", "valid")
    if isinstance(padding, str) and padding.lower() != "valid":
        sizes = _spatial_sizes(w, node)
        totals = [
            s * (i - 1) + p + e + 1 - i * s for i, s, e, p in zip(sizes, strides, edges, extra)
        ]
        padding = resolve_padding(padding, totals)
    args = [channels_first(w, inputs[0], node), w.param(kernel)]
    y = w.op(
        "ConvTranspose",
        args + ([w.param(bias)] if bias else []),
        outputs_of(node, node.options.get("channels") == "first"),
        name=layer_name(w, node),
        group=int(node.options.get("feature_group_count", 1)),
        strides=strides,
        dilations=dilations,
        output_padding=extra,
        **_padding_attrs(padding, n),
    )[0]
    return channels_back(w, y, node, rank)


# --- pooling ---------------------------------------------------------------------------


def _pool_attrs(w: Writer, node: Node, n: int) -> dict:
    window = _per_axis(node.options["kernel_size"], n)
    strides = node.options.get("strides")
    attrs = {
        "kernel_shape": window,
        "strides": window if strides is None else _per_axis(strides, n),
        **_padding_attrs(node.options.get("padding", "valid"), n),
    }
    dilations = _per_axis(node.options.get("dilations", 1), n)
    ceil = int(bool(node.options.get("ceil_mode", False)))
    newest = {"max_pool": 10, "avg_pool": 19, "lp_pool": 18}[node.op]
    if (any(d != 1 for d in dilations) or ceil) and w.opset < newest:
        raise _unsupported(
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
        raise _unsupported(w, node, f"ONNX LpPool takes an integer p, got norm={norm}")
    return int(norm)


@exporter("adaptive_avg_pool", "adaptive_max_pool", "adaptive_lp_pool")
def _adaptive(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: MaxPool / AveragePool / LpPool when the output size divides the input."""
    sizes = _spatial_sizes(w, node)
    out = _per_axis(node.options["output_size"], len(sizes))
    if any(s % o for s, o in zip(sizes, out)):
        raise _unsupported(
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


# --- resize ----------------------------------------------------------------------------

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
    size = np.array(_per_axis(node.options["size"], n), np.int64)
    x = channels_first(w, inputs[0], node)
    attrs = dict(_RESIZE_MODES[node.options.get("method", "nearest")])
    # Full-rank sizes: onnxruntime rejects `sizes` with the `axes` attribute (opset 18+).
    leading = w.op("Slice", [w.op("Shape", [x])[0], *_ints(w, [0], [2])])[0]
    sizes = w.op("Concat", [leading, w.constant(size, "sizes")], axis=0)[0]
    y = w.op(
        "Resize",
        [x, "", "", sizes],
        name=layer_name(w, node),
        coordinate_transformation_mode="half_pixel",
        **attrs,
    )[0]
    return channels_back(w, y, node, rank)


def _ints(w: Writer, *lists: list[int]) -> list[str]:
    return [w.constant(np.array(values, np.int64), "ints") for values in lists]


# --- recurrent layers ------------------------------------------------------------------

_ONNX_ACTIVATIONS = {
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "hardsigmoid": "HardSigmoid",
    "softsign": "Softsign",
    "softplus": "Softplus",
    "elu": "Elu",
    "leakyrelu": "LeakyRelu",
}


def _recurrent_attrs(w: Writer, node: Node, units: int) -> dict:
    attrs = {"hidden_size": units, "direction": node.options.get("direction", "forward")}
    if node.options.get("activations") is not None:
        names = []
        for a in node.options["activations"]:
            key = a.lower().replace("_", "") if isinstance(a, str) else None
            if key not in _ONNX_ACTIVATIONS:
                raise _unsupported(w, node, f"activation {a!r} has no ONNX recurrent form")
            names.append(_ONNX_ACTIVATIONS[key])
        attrs["activations"] = names
    if node.options.get("clip") is not None:
        attrs["clip"] = float(node.options["clip"])
    if node.options.get("input_forget"):
        attrs["input_forget"] = 1
    if node.options.get("linear_before_reset"):
        attrs["linear_before_reset"] = 1
    return attrs


@exporter("lstm", "gru")
def _recurrent(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> list:
    """ONNX: LSTM / GRU between Transposes to and from sequence-major layout.

    W and R are the kernels transposed to (dirs, gates * units, in); B is the bias."""
    kernel, hidden, bias = params["input_kernel"], params["hidden_kernel"], params.get("bias")
    units = int(hidden.value.shape[1])
    x = w.op("Transpose", [inputs[0]], perm=[1, 0, 2])[0]
    args = [x, w.param(kernel, kernel.value.transpose(0, 2, 1))]
    args += [w.param(hidden, hidden.value.transpose(0, 2, 1))]
    args += [w.param(bias)] if bias else []
    count = 3 if node.op == "lstm" else 2
    op_type = "LSTM" if node.op == "lstm" else "GRU"
    attrs = _recurrent_attrs(w, node, units)
    outs = w.op(op_type, args, count, name=layer_name(w, node), **attrs)
    sequence = w.op("Transpose", [outs[0]], perm=[2, 0, 1, 3])[0]
    return [sequence, outs[1:] if node.op == "lstm" else outs[1]]


@exporter("conv_lstm")
def _conv_lstm(w: Writer, node: Node, inputs: list, params: dict) -> list:
    """ONNX: not exported: UnsupportedOpError."""
    raise _unsupported(
        w,
        node,
        "ONNX has no ConvLSTM op and conv_lstm is not decomposed; replace the layer "
        "(e.g. by conv + lstm) before exporting",
    )


# --- attention -------------------------------------------------------------------------


def _heads(w: Writer, x: str, heads: int, perm: list[int]) -> str:
    """(batch, seq, dim) -> (batch, seq, heads, dim / heads), then permuted."""
    split = w.op("Reshape", [x, *_ints(w, [0, 0, heads, -1])])[0]
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
    merged = w.op("Reshape", [merged, *_ints(w, [0, 0, -1])])[0]
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
        raise _unsupported(w, node, "causal attention needs known sequence lengths")
    causal = w.constant(np.tril(np.ones((q_len, k_len), bool)), "causal")
    return causal if mask is None else w.op("And", [mask, causal])[0]
