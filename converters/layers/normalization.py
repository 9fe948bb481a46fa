"""Normalization and dropout layers: batch_norm <-> BatchNormalization, layer_norm <->
LayerNormalization, rms_norm <-> RMSNormalization, instance_norm, group_norm and the dropouts
-> ONNX. Ops newer than the writer's opset (LayerNormalization, RMSNormalization,
GroupNormalization) are decomposed.
"""

from __future__ import annotations

import numpy as np
import onnx

import axonnx.builders.normalization  # noqa: F401  (registers the layer ops emitted on import)
from axonnx.converters.graph_import import GraphImporter
from axonnx.converters.layer_mapping import ImportedLayer, attrs_of, import_rule, single_output
from axonnx.converters.onnx_writer import (
    Param,
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


@import_rule("BatchNormalization", "batch_norm")
def _import_batch_norm(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    attrs = attrs_of(proto)
    values = [importer.weight(n) for n in proto.input[1:5]]
    if (
        len(proto.input) != 5
        or any(v is None for v in values)
        or not single_output(proto)
        or attrs.get("training_mode", 0)
        or not attrs.get("spatial", 1)
    ):
        return False
    layer = ImportedLayer(
        "batch_norm",
        proto,
        [proto.input[0]],
        {
            "epsilon": float(attrs.get("epsilon", 1e-5)),
            "momentum": float(attrs.get("momentum", 0.9)),
            "channels": "first",
        },
    )
    for (param, kind), name, value in zip(
        [("scale", "param"), ("bias", "param"), ("mean", "state"), ("var", "state")],
        proto.input[1:5],
        values,
        strict=True,
    ):
        layer.param(param, name, value, kind)
    return layer.emit(importer, proto.output[0])


@import_rule("LayerNormalization", "layer_norm")
def _import_layer_norm(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    attrs = attrs_of(proto)
    scale = importer.weight(proto.input[1])
    bias_name = proto.input[2] if len(proto.input) > 2 else ""
    bias = importer.weight(bias_name) if bias_name else None
    if (
        scale is None
        or scale.ndim != 1
        or attrs.get("axis", -1) != -1
        or not single_output(proto)
        or (bias_name and bias is None)
    ):
        return False
    layer = ImportedLayer(
        "layer_norm", proto, [proto.input[0]], {"epsilon": float(attrs.get("epsilon", 1e-5))}
    )
    layer.param("scale", proto.input[1], scale)
    if bias is not None:
        layer.param("bias", bias_name, bias)
    return layer.emit(importer, proto.output[0])


@import_rule("RMSNormalization", "rms_norm")
def _import_rms_norm(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    attrs = attrs_of(proto)
    scale = importer.weight(proto.input[1])
    if scale is None or scale.ndim != 1 or attrs.get("axis", -1) != -1:
        return False
    if attrs.get("stash_type", 1) != 1 or not single_output(proto):
        return False
    epsilon = float(attrs.get("epsilon", 1e-5))
    layer = ImportedLayer("rms_norm", proto, [proto.input[0]], {"epsilon": epsilon})
    layer.param("scale", proto.input[1], scale)
    return layer.emit(importer, proto.output[0])


@exporter("rms_norm")
def _rms_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: RMSNormalization (opset 23+); below: Mul/ReduceMean/Sqrt/Div decomposition."""
    epsilon = float(node.options.get("epsilon", 1e-5))
    x, scale, name = inputs[0], w.param(params["scale"]), layer_name(w, node)
    if w.opset < 23:
        square = w.reduce("ReduceMean", w.op("Mul", [x, x])[0], [-1])
        rms = w.op("Sqrt", [w.op("Add", [square, w.scalar(epsilon)])[0]])[0]
        return w.op("Mul", [w.op("Div", [x, rms])[0], scale], name=name)[0]
    return w.op(
        "RMSNormalization", [x, scale], outputs_of(node), name=name, axis=-1, epsilon=epsilon
    )[0]


@exporter("dropout", "alpha_dropout", "feature_alpha_dropout", "spatial_dropout")
def _dropout(w: Writer, node: Node, inputs: list, params: dict) -> str:
    """ONNX: Identity (inference form)."""
    return w.op("Identity", inputs, name=layer_name(w, node))[0]


@exporter("batch_norm")
def _batch_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: BatchNormalization with the running statistics (Transposes if channels-last)."""
    args = [channels_first(w, inputs[0], node)]
    args += [w.param(params[k]) for k in ("scale", "bias", "mean", "var")]
    first = node.options.get("channels") == "first"
    y = w.op(
        "BatchNormalization",
        args,
        outputs_of(node, first),
        name=layer_name(w, node),
        epsilon=float(node.options.get("epsilon", 1e-5)),
        momentum=float(node.options.get("momentum", 0.9)),
    )[0]
    return channels_back(w, y, node, rank_of(node))


@exporter("layer_norm")
def _layer_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: LayerNormalization (opset 17+); below: ReduceMean/Sub/Mul/Sqrt/Div decomposition."""
    epsilon = float(node.options.get("epsilon", 1e-5))
    scale, bias = w.param(params["scale"]), params.get("bias")
    if w.opset < 17:
        y = _standardize(w, inputs[0], [-1], epsilon)
        y = w.op("Mul", [y, scale])[0]
        return y if bias is None else w.op("Add", [y, w.param(bias)], name=layer_name(w, node))[0]
    args = [inputs[0], scale] + ([w.param(bias)] if bias else [])
    return w.op(
        "LayerNormalization",
        args,
        outputs_of(node),
        name=layer_name(w, node),
        axis=-1,
        epsilon=epsilon,
    )[0]


def _standardize(w: Writer, x: str, axes: list[int], epsilon: float) -> str:
    """`(x - mean) / sqrt(var + epsilon)` over `axes` (biased variance)."""
    centered = w.op("Sub", [x, w.reduce("ReduceMean", x, axes)])[0]
    var = w.reduce("ReduceMean", w.op("Mul", [centered, centered])[0], axes)
    std = w.op("Sqrt", [w.op("Add", [var, w.scalar(epsilon)])[0]])[0]
    return w.op("Div", [centered, std])[0]


def _per_channel(w: Writer, p: Param, rank: int) -> str:
    """A (C,) parameter reshaped to (C, 1, ..., 1) to broadcast over (N, C, *spatial)."""
    shape = w.constant(np.array([-1] + [1] * (rank - 2), np.int64), "shape")
    return w.op("Reshape", [w.param(p), shape])[0]


@exporter("instance_norm")
def _instance_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: InstanceNormalization (Transposes if channels-last)."""
    args = [channels_first(w, inputs[0], node), w.param(params["scale"]), w.param(params["bias"])]
    epsilon = float(node.options.get("epsilon", 1e-5))
    y = w.op("InstanceNormalization", args, name=layer_name(w, node), epsilon=epsilon)[0]
    return channels_back(w, y, node, rank_of(node))


@exporter("group_norm")
def _group_norm(w: Writer, node: Node, inputs: list, params: dict[str, Param]) -> str:
    """ONNX: Reshape to groups, ReduceMean/Sqrt/Div, Reshape back, per-channel Mul + Add.

    Decomposed at every opset: onnx cannot infer GroupNormalization-21's types."""
    x, rank = channels_first(w, inputs[0], node), rank_of(node)
    groups, epsilon = int(node.options["num_groups"]), float(node.options.get("epsilon", 1e-5))
    grouped = w.op("Reshape", [x, w.constant(np.array([0, groups, -1], np.int64), "shape")])[0]
    y = w.op("Reshape", [_standardize(w, grouped, [2], epsilon), w.op("Shape", [x])[0]])[0]
    y = w.op("Mul", [y, _per_channel(w, params["scale"], rank)])[0]
    y = w.op("Add", [y, _per_channel(w, params["bias"], rank)], name=layer_name(w, node))[0]
    return channels_back(w, y, node, rank)
