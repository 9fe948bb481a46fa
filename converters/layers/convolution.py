"""Convolutions: conv <-> Conv; depthwise, separable and transposed convolutions -> ONNX.
Channels-last layers are wrapped in transposes to ONNX's channels-first layout.
"""

from __future__ import annotations

import onnx

import axonnx.builders.conv  # noqa: F401  (registers the layer ops emitted on import)
from axonnx.converters.graph_import import GraphImporter
from axonnx.converters.layer_mapping import ImportedLayer, attrs_of, import_rule
from axonnx.converters.layers._spatial import (
    padding_attrs,
    padding_option,
    per_axis,
    spatial_sizes,
    unsupported,
)
from axonnx.converters.onnx_writer import (
    Param,
    Writer,
    channels_back,
    channels_first,
    exporter,
    layer_name,
    outputs_of,
)
from axonnx.layers._spatial import padding_pairs, resolve_padding
from axonnx.node import Node

__all__: list[str] = []


@import_rule("Conv", "conv")
def _import_conv(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    kernel = importer.weight(proto.input[1])
    bias_name = proto.input[2] if len(proto.input) > 2 else ""
    bias = importer.weight(bias_name) if bias_name else None
    if kernel is None or kernel.ndim < 3 or (bias_name and bias is None):
        return False
    attrs = attrs_of(proto)
    spatial = kernel.ndim - 2
    layer = ImportedLayer(
        "conv",
        proto,
        [proto.input[0]],
        {
            "strides": tuple(attrs.get("strides", [1] * spatial)),
            "padding": padding_option(attrs, spatial),
            "kernel_dilation": tuple(attrs.get("dilations", [1] * spatial)),
            "feature_group_count": int(attrs.get("group", 1)),
            "channels": "first",
        },
    )
    layer.param("kernel", proto.input[1], kernel)
    if bias is not None:
        layer.param("bias", bias_name, bias)
    return layer.emit(importer, proto.output[0])


def _conv_node(w: Writer, node: Node, x: str, kernel: str, bias: str | None, **attrs) -> str:
    args = [x, kernel] + ([bias] if bias else [])
    first = node.options.get("channels") == "first"
    return w.op("Conv", args, outputs_of(node, first), name=layer_name(w, node), **attrs)[0]


def _check_input_dilation(w: Writer, node: Node, n: int) -> None:
    if any(d != 1 for d in per_axis(node.options.get("input_dilation", 1), n)):
        raise unsupported(w, node, "input_dilation != 1 has no ONNX Conv form")


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
        strides=per_axis(node.options.get("strides", 1), n),
        dilations=per_axis(node.options.get("kernel_dilation", 1), n),
        **padding_attrs(node.options.get("padding", "valid"), n),
    )
    return channels_back(w, y, node, rank)


@exporter("separable_conv2d", "separable_conv3d")
def _separable(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: One depthwise Conv per spatial axis."""
    n = 2 if node.op == "separable_conv2d" else 3
    strides = per_axis(node.options.get("strides", 1), n)
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
            **padding_attrs(pads, n),
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
    strides = per_axis(node.options.get("strides", 1), n)
    dilations = per_axis(node.options.get("kernel_dilation", 1), n)
    extra = per_axis(node.options.get("output_padding", 0), n)
    edges = [(k - 1) * d for k, d in zip(kernel.value.shape[2:], dilations)]
    padding = node.options.get("padding", "valid")
    if isinstance(padding, str) and padding.lower() != "valid":
        sizes = spatial_sizes(w, node)
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
        **padding_attrs(padding, n),
    )[0]
    return channels_back(w, y, node, rank)
