"""ONNX → axonnx: turn an ONNX model into a graph-node model and its state."""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np
import onnx

from axonnx.compiler import Plan, plan, run
from axonnx.errors import InvalidModelError, UnsupportedOpError
from axonnx.node import Node, ParamSpec
from axonnx.ops import register_op
from axonnx.state import ModelState
from axonnx.converters.loading import load_model, tensor_to_array
from axonnx.converters.registry import OpSpec, op_name, resolve

__all__ = ["Subgraph", "import_onnx", "unsupported_ops"]

Source = str | os.PathLike | bytes | onnx.ModelProto


def import_onnx(source: Source, *, dims: Mapping[str, int] | None = None) -> tuple[Node, ModelState]:
    """Import an ONNX model as an axonnx model and its state.

    Args:
        source: path of an `.onnx` file, its bytes, or a `ModelProto`.
        dims: sizes for symbolic input dimensions, e.g. `{"batch": 1}`; unbound
            symbolic dimensions stay `None` (one compilation per distinct size).

    Returns:
        `(model, state)`: the model's output is a container keyed by the ONNX graph's
        output names; `state.params` holds the float weights by initializer name.

    >>> model, state = ax.import_onnx("models/mlp.onnx")        # doctest: +SKIP
    >>> ax.predict(model, state, {"x": x})["y"].shape           # doctest: +SKIP
    """
    proto = load_model(source)
    opsets = {imp.domain or "": imp.version for imp in proto.opset_import}
    missing = unsupported_ops(proto.graph, opsets)
    if missing:
        raise UnsupportedOpError(_describe_missing(missing))
    importer = _GraphImporter(opsets, dict(dims or {}), parent=None)
    outputs, params = importer.run(proto.graph)
    names = [o.name for o in proto.graph.output]
    model = gather_outputs({n: outputs[n] for n in names}).replace(
        meta={"onnx_outputs": names, "onnx_opsets": opsets, "onnx_producer": proto.producer_name}
    )
    return model, ModelState(params, {})


def unsupported_ops(graph: onnx.GraphProto, opsets: Mapping[str, int]) -> Counter:
    """Count the (domain, op type, opset) triples of `graph` (and its subgraphs) that
    axonnx cannot run."""
    missing: Counter = Counter()
    stack = [graph]
    while stack:
        current = stack.pop()
        for node in current.node:
            domain = node.domain or ""
            if domain == "ai.onnx":
                domain = ""
            opset = opsets.get(domain)
            spec, _ = resolve(domain, node.op_type, opset) if opset else (None, None)
            if spec is None:
                missing[(domain or "ai.onnx", node.op_type, opset)] += 1
            stack.extend(a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH)
            stack.extend(g for a in node.attribute for g in a.graphs)
    return missing


def _describe_missing(missing: Counter) -> str:
    parts = [f"{t} (domain {d}, opset {o}) ×{n}" for (d, t, o), n in sorted(missing.items(),
                                                                            key=str)]
    return f"unsupported ONNX ops: {'; '.join(parts)}"


@dataclass(frozen=True, eq=False)
class Subgraph:
    """A converted ONNX subgraph (If/Loop/Scan body) run as a function.

    Attributes:
        model: container (a tuple) of the subgraph's outputs.
        inputs: names of the subgraph's formal inputs, in order.
        captures: names of outer-scope values the subgraph reads.
    """

    model: Node
    inputs: tuple[str, ...]
    captures: tuple[str, ...]

    @functools.cached_property
    def plan(self) -> Plan:
        """The subgraph laid out for execution (computed once)."""
        return plan(self.model)

    def __call__(self, *formal: Any, env: Mapping[str, Any]) -> tuple:
        """Run with formal inputs and captured outer values `env` (name → value)."""
        feed = dict(zip(self.inputs, formal, strict=True))
        feed.update({n: env[n] for n in self.captures})
        outputs, _, _ = run(self.plan, ModelState({}, {}), feed)
        return outputs


def gather_outputs(structure: dict | tuple) -> Node:
    """A container node over imported nodes (no shape inference: shapes may be unknown)."""
    leaves = list(structure.values() if isinstance(structure, dict) else structure)
    positions = (dict(zip(structure, range(len(leaves)))) if isinstance(structure, dict)
                 else tuple(range(len(leaves))))
    return Node("container", tuple(leaves), (), {"structure": positions})


def _none():
    return None


register_op("none", _none)


class _GraphImporter:
    """Converts one ONNX graph; subgraphs get a child importer that sees its scope."""

    def __init__(self, opsets, dims, parent: _GraphImporter | None):
        self.opsets, self.dims, self.parent = opsets, dims, parent
        self.values: dict[str, Node] = {}
        self.captured: dict[str, Node] = {}
        self.none = Node("none")

    def run(self, graph: onnx.GraphProto) -> tuple[dict[str, Node], dict]:
        params = self._initializers(graph)
        for value in graph.input:
            if value.name not in self.values:
                self.values[value.name] = self._input(value)
        for node in graph.node:
            self._node(node)
        outputs = {}
        for out in graph.output:
            outputs[out.name] = self._lookup(out.name, f"graph output {out.name!r}")
        return outputs, params

    def _lookup(self, name: str, user: str) -> Node:
        if name == "":
            return self.none
        if name in self.values:
            return self.values[name]
        if self.parent is not None and self.parent._has(name):
            node = Node("input", (), (), {"shape": None, "dtype": None}, name)
            self.values[name] = self.captured[name] = node
            return node
        raise InvalidModelError(f"{user}: uses {name!r}, which no node, input or initializer defines")

    def _has(self, name: str) -> bool:
        return name in self.values or (self.parent is not None and self.parent._has(name))

    def _input(self, value: onnx.ValueInfoProto) -> Node:
        shape, dtype = _value_type(value, self.dims)
        return Node("input", (), (), {"shape": shape, "dtype": dtype}, value.name, None, shape,
                    dtype)

    def _initializers(self, graph: onnx.GraphProto) -> dict:
        roles = _initializer_roles(graph, self.opsets) if self.parent is None else {}
        params = {}
        for tensor in graph.initializer:
            array = tensor_to_array(tensor)
            if roles.get(tensor.name) == "param":
                params[tensor.name] = jnp.asarray(array)
                self.values[tensor.name] = _param_node(tensor.name, array)
            else:
                self.values[tensor.name] = Node("constant", (), (), {"value": array},
                                                None, None, array.shape, array.dtype.name,
                                                {"onnx_name": tensor.name})
        return params

    def _node(self, proto: onnx.NodeProto) -> None:
        domain = "" if proto.domain in ("", "ai.onnx") else proto.domain
        spec, version = resolve(domain, proto.op_type, self.opsets[domain])
        where = f"node {proto.name or proto.output[0]!r} ({proto.op_type})"
        parents = [self._lookup(i, where) for i in proto.input]
        options, extra_parents = self._attributes(proto, spec)
        meta = {"onnx_name": proto.name, "op_type": proto.op_type, "domain": domain,
                "opset": version, "outputs": list(proto.output)}
        node = Node(op_name(domain, proto.op_type, version), tuple(parents + extra_parents),
                    (), options, _layer_name(proto), None, None, None, meta)
        self._bind_outputs(proto, node)

    def _attributes(self, proto: onnx.NodeProto, spec: OpSpec) -> tuple[dict, list[Node]]:
        options, captures = {}, {}
        for attr in proto.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                options[attr.name] = self._subgraph(attr.g, captures)
            else:
                options[attr.name] = _attribute_value(attr)
        if captures:
            options["capture_names"] = tuple(captures)
        return options, list(captures.values())

    def _subgraph(self, graph: onnx.GraphProto, captures: dict) -> Subgraph:
        child = _GraphImporter(self.opsets, self.dims, parent=self)
        outputs, _ = child.run(graph)
        model = gather_outputs(tuple(outputs[o.name] for o in graph.output))
        for name in child.captured:
            captures.setdefault(name, self._lookup(name, "subgraph"))
        inputs = tuple(i.name for i in graph.input)
        return Subgraph(model, inputs, tuple(child.captured))

    def _bind_outputs(self, proto: onnx.NodeProto, node: Node) -> None:
        outputs = [o for o in proto.output]
        if len(outputs) == 1:
            self.values[outputs[0]] = node
            return
        for index, out in enumerate(outputs):
            if out:
                self.values[out] = Node("getitem", (node,), (), {"index": index},
                                        None, None, None, None, {"onnx_output": out})


def _layer_name(proto: onnx.NodeProto) -> str | None:
    name = proto.name
    if not name or "::" in name:
        return None
    return name.lstrip("/").replace("/", ".")


def _param_node(name: str, array: np.ndarray) -> Node:
    spec = ParamSpec("value", array.shape, "zeros", array.dtype.name, "param",
                     {"onnx_name": name})
    return Node("param", (), (spec,), {}, name, None, array.shape, array.dtype.name,
                {"onnx_name": name})


def _initializer_roles(graph: onnx.GraphProto, opsets) -> dict[str, str]:
    """'param' for float initializers that act as weights, 'constant' otherwise."""
    floats = {t.name: t for t in graph.initializer if _is_float(t.data_type)}
    static, weight = set(), set()
    for node in graph.node:
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        spec, _ = resolve(domain, node.op_type, opsets.get(domain, 0))
        if spec is None:
            continue
        for position, name in enumerate(node.input):
            if position in spec.static_inputs:
                static.add(name)
            elif position in spec.weight_inputs:
                weight.add(name)
    roles = {}
    for name, tensor in floats.items():
        size = int(np.prod(tensor.dims)) if tensor.dims else 1
        if name not in static and (name in weight or size > 1):
            roles[name] = "param"
    return roles


_FLOATS = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
           onnx.TensorProto.BFLOAT16}


def _is_float(data_type: int) -> bool:
    return data_type in _FLOATS


def _value_type(value: onnx.ValueInfoProto, dims: Mapping[str, int]) -> tuple[Any, Any]:
    tensor = value.type.tensor_type
    if not value.type.HasField("tensor_type"):
        return None, None
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else None
    if not tensor.HasField("shape"):
        return None, dtype
    shape = tuple(_dim(d, dims) for d in tensor.shape.dim)
    return shape, dtype


def _dim(dim: onnx.TensorShapeProto.Dimension, dims: Mapping[str, int]) -> int | None:
    if dim.HasField("dim_value"):
        return int(dim.dim_value)
    return dims.get(dim.dim_param)


def _attribute_value(attr: onnx.AttributeProto) -> Any:
    value = onnx.helper.get_attribute_value(attr)
    if attr.type == onnx.AttributeProto.TENSOR:
        return tensor_to_array(value)
    if attr.type == onnx.AttributeProto.TENSORS:
        return [tensor_to_array(t) for t in value]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8") for v in value]
    if attr.type in (onnx.AttributeProto.TYPE_PROTO, onnx.AttributeProto.SPARSE_TENSOR):
        return value
    if isinstance(value, list):
        return tuple(value)
    return value

