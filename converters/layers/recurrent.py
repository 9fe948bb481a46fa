"""Recurrent layers: lstm <-> LSTM, gru <-> GRU, conv_lstm -> ONNX. ONNX is sequence-major;
the layers are batch-major, so both directions write transposes.
"""

from __future__ import annotations

import numpy as np
import onnx

import axonnx.builders.recurrent  # noqa: F401  (registers the layer ops emitted on import)
from axonnx.converters.export_jaxpr import write_traced
from axonnx.converters.graph_import import GraphImporter
from axonnx.converters.layer_mapping import ImportedLayer, attrs_of, import_rule
from axonnx.converters.layers._spatial import (
    unsupported,
)
from axonnx.converters.onnx_writer import (
    Param,
    Writer,
    exporter,
    layer_name,
)
from axonnx.converters.ops._recurrent_util import DIRECTIONS
from axonnx.layers import conv_lstm as conv_lstm_fn
from axonnx.node import Node

__all__ = ["GATE_ACTIVATIONS"]


GATE_ACTIVATIONS = {
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "hardsigmoid": "HardSigmoid",
    "softsign": "Softsign",
    "softplus": "Softplus",
    "elu": "Elu",
    "leakyrelu": "LeakyRelu",
}
"""The ONNX gate activations the `lstm`/`gru` layers compute (ONNX's default alpha and
beta), by lower-case name -> ONNX spelling: both directions read this one table."""


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _recurrent_options(proto: onnx.NodeProto, per: int, dirs: int) -> dict | None:
    """The layer options of an ONNX LSTM/GRU, or None when the layer cannot express
    them (activation alpha/beta, activations it lacks, a mismatched count)."""
    attrs = attrs_of(proto)
    if "activation_alpha" in attrs or "activation_beta" in attrs:
        return None
    options: dict = {"direction": _text(attrs.get("direction", "forward"))}
    names = tuple(_text(a) for a in attrs.get("activations", ()))
    if names:
        if len(names) not in (per, per * dirs) or any(
            n.lower() not in GATE_ACTIVATIONS for n in names
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
) -> ImportedLayer | None:
    """An `lstm`/`gru` layer for an ONNX LSTM/GRU whose W, R (and B) are weights of
    this node alone, without sequence_lens or peepholes and with zero (or no) initial
    states; else None."""
    inputs = list(proto.input) + [""] * 8
    attrs = attrs_of(proto)
    dirs = DIRECTIONS.get(_text(attrs.get("direction", "forward")))
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
    layer = ImportedLayer(op, proto, [], options)
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


def _emit_recurrent(importer: GraphImporter, layer: ImportedLayer, outputs: list) -> bool:
    """Emit `layer` on X made batch-major, and bind each ONNX output (name, index path
    into the layer's result, permutation back to the ONNX layout or None)."""
    proto = layer.proto
    layout = attrs_of(proto).get("layout", 0)
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
    layout = attrs_of(proto).get("layout", 0)
    names = list(proto.output) + [""] * len(paths)
    y = (names[0], paths[0], None if layout else (1, 2, 0, 3))
    states = [(n, p, (1, 0, 2) if layout else None) for n, p in zip(names[1:], paths[1:])]
    return [y, *states]


@import_rule("LSTM", "lstm")
def _import_lstm(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    layer = _recurrent_layer(importer, proto, "lstm", 4)
    if layer is None:
        return False
    return _emit_recurrent(importer, layer, _recurrent_outputs(proto, [(0,), (1, 0), (1, 1)]))


@import_rule("GRU", "gru")
def _import_gru(importer: GraphImporter, proto: onnx.NodeProto) -> bool:
    layer = _recurrent_layer(importer, proto, "gru", 3)
    if layer is None:
        return False
    return _emit_recurrent(importer, layer, _recurrent_outputs(proto, [(0,), (1,)]))


def _recurrent_attrs(w: Writer, node: Node, units: int) -> dict:
    attrs = {"hidden_size": units, "direction": node.options.get("direction", "forward")}
    if node.options.get("activations") is not None:
        names = []
        for a in node.options["activations"]:
            key = a.lower().replace("_", "") if isinstance(a, str) else None
            if key not in GATE_ACTIVATIONS:
                raise unsupported(w, node, f"activation {a!r} has no ONNX recurrent form")
            names.append(GATE_ACTIVATIONS[key])
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
    """ONNX: Loop over time (the functional layer traced: a Conv per gate input, Sigmoid/Tanh)."""
    return write_traced(w, node, inputs, conv_lstm_fn, params)
