"""ONNX patterns that are built-in axonnx layers, recognised on import.

Each rule looks at one ONNX node (and, for MatMul + Add, its consumer); when the
weights it needs are initializers used by that node alone, it emits the built-in
layer (dense, conv, batch_norm, layer_norm, embedding) with the weights as the
layer's parameters, each remembering its ONNX initializer name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import numpy as np
import onnx

import axonnx.builders.conv  # noqa: F401  (registers the layer ops used below)
import axonnx.builders.linear  # noqa: F401
import axonnx.builders.normalization  # noqa: F401
import axonnx.builders.recurrent  # noqa: F401
from axonnx.converters.graph_import import GraphImporter, domain_of, layer_name, onnx_meta
from axonnx.converters.registry import resolve
from axonnx.node import Node, ParamSpec

__all__ = ["match_layer"]

Rule = Callable[[GraphImporter, onnx.NodeProto], bool]
_RULES: dict[str, tuple[str, Rule]] = {}


def _rule(op_type: str, layer: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        _RULES[op_type] = (layer, fn)
        return fn

    return register


def layer_for(op_type: str) -> str | None:
    """The built-in layer an ONNX op type of the default domain may import as."""
    entry = _RULES.get(op_type)
    return entry[0] if entry else None


def match_layer(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    """Emit a built-in layer for `proto` if a rule matches; return whether one did."""
    entry = _RULES.get(proto.op_type)
    return domain_of(proto) == "" and entry is not None and entry[1](importer, proto)


@dataclass
class _Layer:
    """A layer being assembled from ONNX weights."""

    op: str
    proto: onnx.NodeProto
    inputs: list[str]
    options: dict = field(default_factory=dict)
    params: list[tuple[str, str, np.ndarray, str]] = field(default_factory=list)
    transposed: set[str] = field(default_factory=set)

    def param(self, name: str, onnx_name: str, value: np.ndarray, kind: str = "param") -> None:
        self.params.append((name, onnx_name, value, kind))

    def emit(self, importer: GraphImporter, output: str) -> bool:
        name = _unique(importer, _name_for(self))
        specs = []
        for param, onnx_name, value, kind in self.params:
            meta = {"onnx_name": onnx_name}
            if param in self.transposed:
                meta["onnx_transposed"] = True
            specs.append(ParamSpec(param, value.shape, "zeros", value.dtype.name, kind, meta))
            tree = importer.state if kind == "state" else importer.params
            tree.setdefault(name, {})[param] = jax.device_put(value)
        where = f"node {self.proto.name or output!r} ({self.proto.op_type})"
        parents = tuple(importer.lookup(i, where) for i in self.inputs)
        domain = domain_of(self.proto)
        version = resolve(domain, self.proto.op_type, importer.opsets[domain])[1]
        meta = {**onnx_meta(self.proto, domain, version), "outputs": [output]}
        node = Node(self.op, parents, tuple(specs), self.options, name, None, None, None, meta)
        importer.values[output] = node
        return True


def _name_for(layer: _Layer) -> str:
    onnx_names = [n for _, n, _, _ in layer.params]
    prefix = os.path.commonprefix(onnx_names).rstrip("._")
    rests = [n[len(prefix) :] for n in onnx_names]
    # a whole-word prefix only: `const_12`, `const_13` share `const_1`, which names neither
    if prefix and "::" not in prefix and all(r[:1] in "._" and r.lstrip("._") for r in rests):
        return prefix
    return layer_name(layer.proto, strip_op=True) or f"{layer.op}_{layer.proto.output[0]}"


def _unique(importer: GraphImporter, name: str) -> str:
    """`name`, or `name_1`, `name_2`, ...: the first that no other layer and no plain
    parameter has. Plain parameters are keyed by their initializer's name (made on
    first use, possibly after this layer), so every initializer name counts as taken."""
    candidate, k = name, 1
    while _taken(importer, candidate):
        candidate, k = f"{name}_{k}", k + 1
    importer.layer_names.add(candidate)
    return candidate


def _taken(importer: GraphImporter, name: str) -> bool:
    trees = (importer.layer_names, importer.initializers, importer.params, importer.state)
    return any(name in tree for tree in trees)


def _attrs(proto: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in proto.attribute}


def _single_output(proto: onnx.NodeProto) -> bool:
    return len([o for o in proto.output if o]) == 1


@_rule("MatMul", "dense")
def _matmul(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    kernel = importer.weight(proto.input[1])
    if kernel is None or kernel.ndim != 2:
        return False
    layer = _Layer("dense", proto, [proto.input[0]])
    layer.param("kernel", proto.input[1], kernel)
    output = proto.output[0]
    add = _bias_add(importer, output, kernel.shape[1])
    if add is not None:
        node, bias_name = add
        layer.param("bias", bias_name, importer.weight(bias_name))
        importer.fused.add(id(node))
        output = node.output[0]
    return layer.emit(importer, output)


def _bias_add(importer: GraphImporter, value: str, units: int):
    consumers = importer.consumers[value]
    if len(consumers) != 1 or value in importer.outputs:
        return None
    node = consumers[0]
    if node.op_type != "Add" or domain_of(node) != "":
        return None
    other = node.input[1] if node.input[0] == value else node.input[0]
    bias = importer.weight(other)
    if bias is None or bias.shape != (units,):
        return None
    return node, other


@_rule("Gemm", "dense")
def _gemm(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    attrs = _attrs(proto)
    weight = importer.weight(proto.input[1])
    if (
        weight is None
        or weight.ndim != 2
        or attrs.get("alpha", 1.0) != 1.0
        or attrs.get("transA", 0)
        or attrs.get("beta", 1.0) != 1.0
    ):
        return False
    transposed = bool(attrs.get("transB", 0))
    kernel = weight.T if transposed else weight
    bias_name = proto.input[2] if len(proto.input) > 2 else ""
    bias = importer.weight(bias_name) if bias_name else None
    if bias_name and (bias is None or bias.shape != (kernel.shape[1],)):
        return False
    layer = _Layer("dense", proto, [proto.input[0]])
    layer.param("kernel", proto.input[1], kernel)
    if transposed:
        layer.transposed.add("kernel")
    if bias is not None:
        layer.param("bias", bias_name, bias)
    return layer.emit(importer, proto.output[0])


def _conv_padding(attrs: dict, spatial: int):
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return "same" if auto_pad == "SAME_UPPER" else "same_lower"
    if auto_pad == "VALID":
        return "valid"
    pads = list(attrs.get("pads", [0] * 2 * spatial))
    return tuple((pads[i], pads[i + spatial]) for i in range(spatial))


@_rule("Conv", "conv")
def _conv(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    kernel = importer.weight(proto.input[1])
    bias_name = proto.input[2] if len(proto.input) > 2 else ""
    bias = importer.weight(bias_name) if bias_name else None
    if kernel is None or kernel.ndim < 3 or (bias_name and bias is None):
        return False
    attrs = _attrs(proto)
    spatial = kernel.ndim - 2
    layer = _Layer(
        "conv",
        proto,
        [proto.input[0]],
        {
            "strides": tuple(attrs.get("strides", [1] * spatial)),
            "padding": _conv_padding(attrs, spatial),
            "kernel_dilation": tuple(attrs.get("dilations", [1] * spatial)),
            "feature_group_count": int(attrs.get("group", 1)),
            "channels": "first",
        },
    )
    layer.param("kernel", proto.input[1], kernel)
    if bias is not None:
        layer.param("bias", bias_name, bias)
    return layer.emit(importer, proto.output[0])


@_rule("BatchNormalization", "batch_norm")
def _batch_norm(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    attrs = _attrs(proto)
    values = [importer.weight(n) for n in proto.input[1:5]]
    if (
        len(proto.input) != 5
        or any(v is None for v in values)
        or not _single_output(proto)
        or attrs.get("training_mode", 0)
        or not attrs.get("spatial", 1)
    ):
        return False
    layer = _Layer(
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


@_rule("LayerNormalization", "layer_norm")
def _layer_norm(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    attrs = _attrs(proto)
    scale = importer.weight(proto.input[1])
    bias_name = proto.input[2] if len(proto.input) > 2 else ""
    bias = importer.weight(bias_name) if bias_name else None
    if (
        scale is None
        or scale.ndim != 1
        or attrs.get("axis", -1) != -1
        or not _single_output(proto)
        or (bias_name and bias is None)
    ):
        return False
    layer = _Layer(
        "layer_norm", proto, [proto.input[0]], {"epsilon": float(attrs.get("epsilon", 1e-5))}
    )
    layer.param("scale", proto.input[1], scale)
    if bias is not None:
        layer.param("bias", bias_name, bias)
    return layer.emit(importer, proto.output[0])


@_rule("Gather", "embedding")
def _embedding(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    table = importer.weight(proto.input[0])
    if table is None or table.ndim != 2 or _attrs(proto).get("axis", 0) != 0:
        return False
    layer = _Layer("embedding", proto, [proto.input[1]])
    layer.param("table", proto.input[0], table)
    return layer.emit(importer, proto.output[0])


# ---------------------------------------------------------------- recurrent layers

# ONNX activations the `lstm`/`gru` layers compute with ONNX's default alpha and beta.
_LAYER_ACTIVATIONS = {
    "sigmoid",
    "tanh",
    "relu",
    "hardsigmoid",
    "softsign",
    "softplus",
    "elu",
    "leakyrelu",
}
_DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _recurrent_options(proto: onnx.NodeProto, per: int, dirs: int) -> dict | None:
    """The layer options of an ONNX LSTM/GRU, or None when the layer cannot express
    them (activation alpha/beta, activations it lacks, a mismatched count)."""
    attrs = _attrs(proto)
    if "activation_alpha" in attrs or "activation_beta" in attrs:
        return None
    options: dict = {"direction": _text(attrs.get("direction", "forward"))}
    names = tuple(_text(a) for a in attrs.get("activations", ()))
    if names:
        if len(names) not in (per, per * dirs) or any(
            n.lower() not in _LAYER_ACTIVATIONS for n in names
        ):
            return None
        options["activations"] = names
    if "clip" in attrs:
        options["clip"] = float(attrs["clip"])
    for flag in ("input_forget", "linear_before_reset"):
        if attrs.get(flag, 0):
            options[flag] = True
    return options


def _is_zero(importer: GraphImporter, name: str) -> bool:
    """Whether value `name` is absent or known to be all zeros: a zero initializer, or a
    Constant / ConstantOfShape of zeros (how PyTorch exports default initial states)."""
    if not name:
        return True
    if name in importer.initializers:
        return not np.any(importer.array(name))
    node = importer.values.get(name)
    if node is None or node.meta.get("op_type") not in ("Constant", "ConstantOfShape"):
        return False
    value = node.options.get("value")
    if value is None:
        return node.meta["op_type"] == "ConstantOfShape"
    return set(node.options) == {"value"} and not np.any(value)


def _recurrent_layer(
    importer: GraphImporter, proto: onnx.NodeProto, op: str, gates: int
) -> _Layer | None:
    """An `lstm`/`gru` layer for an ONNX LSTM/GRU whose W, R (and B) are weights of
    this node alone, without sequence_lens or peepholes and with zero (or no) initial
    states; else None."""
    inputs = list(proto.input) + [""] * 8
    attrs = _attrs(proto)
    dirs = _DIRECTIONS.get(_text(attrs.get("direction", "forward")))
    W, R = importer.weight(inputs[1]), importer.weight(inputs[2])
    B = importer.weight(inputs[3]) if inputs[3] else None
    states_zero = all(_is_zero(importer, n) for n in inputs[5:7])
    if dirs is None or W is None or R is None or (inputs[3] and B is None):
        return None
    if inputs[4] or inputs[7] or not states_zero:
        return None
    hidden = R.shape[-1]
    if (
        W.ndim != 3
        or W.shape[:2] != (dirs, gates * hidden)
        or R.shape != (dirs, gates * hidden, hidden)
        or (B is not None and B.shape != (dirs, 2 * gates * hidden))
        or attrs.get("hidden_size", hidden) != hidden
    ):
        return None
    options = _recurrent_options(proto, 3 if op == "lstm" else 2, dirs)
    if options is None:
        return None
    layer = _Layer(op, proto, [], options)
    layer.param("input_kernel", inputs[1], W.transpose(0, 2, 1))
    layer.param("hidden_kernel", inputs[2], R.transpose(0, 2, 1))
    layer.transposed.update({"input_kernel", "hidden_kernel"})
    if B is not None:
        layer.param("bias", inputs[3], B)
    return layer


def _transposed(node: Node, permutation: tuple[int, ...] | None, meta=None) -> Node:
    if permutation is None:
        return node if meta is None else node.replace(meta=meta)
    return Node("transpose", (node,), (), {"permutation": permutation}, meta=meta or {})


def _emit_recurrent(importer: GraphImporter, layer: _Layer, outputs: list) -> bool:
    """Emit `layer` on X made batch-major, and bind each ONNX output (name, index path
    into the layer's result, permutation back to the ONNX layout or None)."""
    proto = layer.proto
    layout = _attrs(proto).get("layout", 0)
    x = importer.lookup(proto.input[0], f"node {proto.name or proto.output[0]!r} ({proto.op_type})")
    temporary = f"\0{layer.op}:{id(proto)}"
    layer.emit(importer, temporary)
    node = importer.values.pop(temporary)
    node = node.replace(parents=(x if layout else _transposed(x, (1, 0, 2)),))
    for name, path, permutation in outputs:
        if name:
            value = node
            for index in path:
                value = Node("getitem", (value,), (), {"index": index})
            importer.values[name] = _transposed(value, permutation, {"onnx_output": name})
    return True


def _recurrent_outputs(proto: onnx.NodeProto, paths: list[tuple[int, ...]]) -> list:
    """(name, path, permutation) of Y and the final states for `_emit_recurrent`: Y
    (batch, time, dirs, hidden) and states (dirs, batch, hidden) to the ONNX layout."""
    layout = _attrs(proto).get("layout", 0)
    names = list(proto.output) + [""] * len(paths)
    y = (names[0], paths[0], None if layout else (1, 2, 0, 3))
    states = [(n, p, (1, 0, 2) if layout else None) for n, p in zip(names[1:], paths[1:])]
    return [y, *states]


@_rule("LSTM", "lstm")
def _lstm(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    layer = _recurrent_layer(importer, proto, "lstm", 4)
    if layer is None:
        return False
    return _emit_recurrent(importer, layer, _recurrent_outputs(proto, [(0,), (1, 0), (1, 1)]))


@_rule("GRU", "gru")
def _gru(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    layer = _recurrent_layer(importer, proto, "gru", 3)
    if layer is None:
        return False
    return _emit_recurrent(importer, layer, _recurrent_outputs(proto, [(0,), (1,)]))
