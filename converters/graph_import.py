"""Converting one ONNX graph (and, recursively, its subgraphs) into graph nodes."""

from __future__ import annotations

import functools
import inspect
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
import onnx

from axonnx.converters.file_weights import FileWeights
from axonnx.converters.loading import tensor_to_array
from axonnx.converters.op_schemas import onnx_schema
from axonnx.converters.registry import OpSpec, op_name, resolve, spec_of
from axonnx.converters.simplify import GraphView
from axonnx.errors import InvalidModelError
from axonnx.node import Node, ParamSpec
from axonnx.op_table import register_op
from axonnx.subgraph import Subgraph

__all__ = ["GraphImporter", "gather_outputs", "read_initializer"]


def gather_outputs(structure: dict | tuple) -> Node:
    """A container node over imported nodes (no shape inference: shapes may be unknown)."""
    leaves = list(structure.values() if isinstance(structure, dict) else structure)
    positions = (
        dict(zip(structure, range(len(leaves)), strict=True))
        if isinstance(structure, dict)
        else tuple(range(len(leaves)))
    )
    return Node("container", tuple(leaves), (), {"structure": positions})


def _none():
    return None


register_op("none", _none)


def domain_of(node: onnx.NodeProto) -> str:
    """The node's domain, with `ai.onnx` spelled as the default domain `""`."""
    return "" if node.domain in ("", "ai.onnx") else node.domain


class GraphImporter:
    """Converts one ONNX graph; subgraphs get a child importer that sees its scope.

    Initializers become nodes only when something uses them: trainable weights
    (`roles`, from `weights.initializer_roles`) become `param` nodes (one per
    initializer however many consumers), others `constant` nodes. A layer rule may
    instead absorb a weight into a built-in layer. Nodes get their shape and dtype
    from `types` (`value_types.infer_value_types`) as they are built.
    """

    def __init__(
        self,
        opsets: Mapping[str, int],
        dims: Mapping[str, int],
        parent: GraphImporter | None = None,
        *,
        weights: FileWeights | None = None,
        match_layer: Callable[[GraphImporter, onnx.NodeProto], bool] | None = None,
        constants: frozenset[str] = frozenset(),
        roles: Mapping[str, str] | None = None,
        types: Mapping[str, Any] | None = None,
    ):
        self.opsets, self.dims, self.parent = opsets, dims, parent
        # recognises built-in layers (`layer_rules.match_layer`); none: every node generic
        self.match_layer = match_layer or (lambda importer, node: False)
        self.weights = weights  # top-level initializers read from the file on demand
        self.constants = constants  # initializers that are never weights (folded values)
        self.roles = roles or {}  # initializer name -> "param" for trainable weights
        self.types = types or {}  # ONNX value name -> (shape, dtype) where inferred
        self.values: dict[str, Node] = {}
        self.captured: dict[str, Node] = {}
        self.params: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self.initializers: dict[str, onnx.TensorProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        self.outputs: set[str] = set()
        self.fused: set[int] = set()
        self.layer_names: set[str] = set()
        self.none = Node("none")

    def run(self, graph: onnx.GraphProto | GraphView) -> dict[str, Node]:
        """Convert `graph`; return its outputs by name (params collect in `self.params`)."""
        self.initializers = {t.name: t for t in graph.initializer}
        self.outputs = {o.name for o in graph.output}
        for node in graph.node:
            for name in node.input:
                self.consumers[name].append(node)
        for value in graph.input:
            if value.name not in self.initializers:
                self.values[value.name] = self._input(value)
        for node in graph.node:
            if id(node) not in self.fused and not self.match_layer(self, node):
                self._generic(node)
        return {o.name: self.lookup(o.name, f"graph output {o.name!r}") for o in graph.output}

    def lookup(self, name: str, user: str) -> Node:
        """The node producing value `name`, made on first use for initializers."""
        if name == "":
            return self.none
        if name in self.values:
            node = self.values[name]
            if node.shape is None and self.types:  # bound by a layer rule, untyped
                node = self.values[name] = self.typed(node)
            return node
        if name in self.initializers:
            node = self._initializer_node(name)
        elif self.parent is not None and self.parent.defines(name):
            node = Node("input", (), (), {"shape": None, "dtype": None}, name=name)
            self.captured[name] = node
        else:
            raise InvalidModelError(
                f"{user}: uses {name!r}, which no node, input or initializer defines"
            )
        self.values[name] = node
        return node

    def defines(self, name: str) -> bool:
        """Whether `name` is visible in this graph's scope (for subgraph captures)."""
        own = name in self.values or name in self.initializers
        return own or (self.parent is not None and self.parent.defines(name))

    def typed(self, node: Node) -> Node:
        """`node` with the inferred shape and dtype of the ONNX value it produces, when
        it has none and inference typed that value."""
        known = self.types.get(onnx_value_name(node))
        if node.shape is not None or known is None:
            return node
        return node.replace(shape=known[0], dtype=known[1])

    def weight(self, name: str) -> np.ndarray | None:
        """The value of a float weight initializer that only one node consumes, else None."""
        if (
            self.roles.get(name) != "param"
            or len(self.consumers[name]) != 1
            or name in self.outputs
            or name in self.values
        ):
            return None
        return self.array(name)

    def array(self, name: str) -> np.ndarray:
        """The value of initializer `name` (from the file when `weights` holds it)."""
        return read_initializer(self.initializers[name], self.weights)

    def _initializer_node(self, name: str) -> Node:
        array = self.array(name)
        if self.roles.get(name) == "param":
            self.params[name] = jax.device_put(array)
            spec = ParamSpec(
                "value", array.shape, "zeros", array.dtype.name, "param", {"onnx_name": name}
            )
            return Node(
                "param",
                (),
                (spec,),
                {},
                name=name,
                shape=array.shape,
                dtype=array.dtype.name,
                meta={"onnx_name": name},
            )
        folded = {"folded": True} if name in self.constants else {}  # not in the file
        return Node(
            "constant",
            (),
            (),
            {"value": array},
            shape=array.shape,
            dtype=array.dtype.name,
            meta={"onnx_name": name, **folded},
        )

    def _input(self, value: onnx.ValueInfoProto) -> Node:
        shape, dtype = value_type(value, self.dims)
        return Node(
            "input",
            (),
            (),
            {"shape": shape, "dtype": dtype},
            name=value.name,
            shape=shape,
            dtype=dtype,
            meta=dim_names(value),
        )

    def _generic(self, proto: onnx.NodeProto) -> None:
        domain = domain_of(proto)
        _, version = resolve(domain, proto.op_type, self.opsets[domain])
        where = f"node {proto.name or proto.output[0]!r} ({proto.op_type})"
        parents = [self.lookup(i, where) for i in proto.input]
        options, captured = self._attributes(proto)
        op = op_name(domain, proto.op_type, version)
        spec = spec_of(op) if version else None
        if spec is not None and spec.prepare is not None:
            captured += spec.prepare(self, proto, options)
        if _takes_output_count(spec) and "num_outputs" not in options:
            options["num_outputs"] = len(proto.output)
        value = proto.output[0] if len(proto.output) == 1 else None  # `onnx_value_name`
        shape, dtype = self.types.get(value, (None, None))
        node = Node(
            op,
            tuple(parents + captured),
            (),
            options,
            name=layer_name(proto),
            shape=shape,
            dtype=dtype,
            meta=onnx_meta(proto, domain, version),
        )
        self.bind_outputs(proto, node)

    def _attributes(self, proto: onnx.NodeProto) -> tuple[dict, list[Node]]:
        options, captures = {}, {}
        for attr in proto.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                options[attr.name] = self._subgraph(attr.g, captures)
            else:
                options[attr.name] = attribute_value(attr)
        if captures:
            options["capture_names"] = tuple(captures)
        return options, list(captures.values())

    def _subgraph(self, graph: onnx.GraphProto, captures: dict) -> Subgraph:
        child = GraphImporter(self.opsets, self.dims, self, match_layer=self.match_layer)
        outputs = child.run(graph)
        model = gather_outputs(tuple(outputs[o.name] for o in graph.output))
        for name in child.captured:
            captures.setdefault(name, self.lookup(name, "subgraph"))
        inputs = tuple(i.name for i in graph.input)
        return Subgraph(model, inputs, tuple(child.captured))

    def bind_outputs(self, proto: onnx.NodeProto, node: Node) -> None:
        """Make `node` the producer of the ONNX node's output, or, for ops that can have
        several outputs, one `getitem` per output."""
        outputs = list(proto.output)
        if len(outputs) == 1 and not _may_return_several(proto, self.opsets):
            self.values[outputs[0]] = node
            return
        for index, out in enumerate(outputs):
            if out:
                shape, dtype = self.types.get(out, (None, None))
                self.values[out] = Node(
                    "getitem",
                    (node,),
                    (),
                    {"index": index},
                    shape=shape,
                    dtype=dtype,
                    meta={"onnx_output": out},
                )


def read_initializer(tensor: onnx.TensorProto, weights: FileWeights | None) -> np.ndarray:
    """The value of an initializer, read from the file when `weights` holds it."""
    if weights is not None and tensor.name in weights:
        return weights.array(tensor)
    return tensor_to_array(tensor)


def _may_return_several(proto: onnx.NodeProto, opsets: Mapping[str, int]) -> bool:
    domain = domain_of(proto)
    schema = onnx_schema(proto.op_type, opsets[domain], domain)
    return schema is not None and schema.max_output > 1


def _takes_output_count(spec: OpSpec | None) -> bool:
    """Ops whose result depends on how many outputs the node has (Split without sizes)
    take a `num_outputs` keyword; the importer passes the node's output count."""
    return spec is not None and _has_num_outputs(spec.fn)


@functools.cache
def _has_num_outputs(fn) -> bool:
    return "num_outputs" in inspect.signature(fn).parameters


def onnx_value_name(node: Node) -> str | None:
    """The ONNX name of the value an imported node produces, if it produces exactly one."""
    if "onnx_output" in node.meta:
        return node.meta["onnx_output"]
    outputs = node.meta.get("outputs") or []
    return outputs[0] if len(outputs) == 1 else None


def onnx_meta(proto: onnx.NodeProto, domain: str, version: int | None) -> dict:
    """What an imported node remembers of its ONNX origin (for export and reports)."""
    meta = {
        "onnx_name": proto.name,
        "op_type": proto.op_type,
        "domain": domain,
        "opset": version,
        "outputs": list(proto.output),
    }
    for prop in proto.metadata_props:  # the module path PyTorch's dynamo exporter writes
        if prop.key == "pkg.torch.onnx.name_scopes":
            meta["name_scopes"] = prop.value
    return meta


def layer_name(proto: onnx.NodeProto, *, strip_op: bool = False) -> str | None:
    """A readable layer name from the ONNX node name (`/encoder/layer.0/Add` →
    `encoder.layer.0.Add`; with `strip_op`, for a layer built from the node,
    `encoder.layer.0`), or None for anonymous nodes."""
    name = proto.name
    if not name or "::" in name:
        return None
    parts = [p for p in name.split("/") if p]
    if strip_op and len(parts) > 1 and re.fullmatch(rf"{proto.op_type}(_\d+)?", parts[-1]):
        parts = parts[:-1]
    return ".".join(parts) or None


def value_type(value: onnx.ValueInfoProto, dims: Mapping[str, int]) -> tuple[Any, Any]:
    """`(shape, dtype name)` of a graph value; symbolic dims are bound from `dims` or None."""
    if not value.type.HasField("tensor_type"):
        return None, None
    tensor = value.type.tensor_type
    dtype = (
        onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else None
    )
    if not tensor.HasField("shape"):
        return None, dtype
    return tuple(_dim(d, dims) for d in tensor.shape.dim), dtype


def dim_names(value: onnx.ValueInfoProto) -> dict:
    """`{"dim_names": (...)}`: the names of a graph input's symbolic dimensions (`None`
    for fixed ones), for summaries; `{}` when it has none."""
    tensor = value.type.tensor_type
    if not value.type.HasField("tensor_type") or not tensor.HasField("shape"):
        return {}
    names = tuple(d.dim_param or None for d in tensor.shape.dim)
    return {"dim_names": names} if any(names) else {}


def _dim(dim: onnx.TensorShapeProto.Dimension, dims: Mapping[str, int]) -> int | None:
    if dim.HasField("dim_value"):
        return int(dim.dim_value)
    return dims.get(dim.dim_param)


def attribute_value(attr: onnx.AttributeProto) -> Any:
    """A Python value for an ONNX attribute: tensors as NumPy, strings decoded, lists as
    tuples."""
    value = onnx.helper.get_attribute_value(attr)
    if attr.type == onnx.AttributeProto.TENSOR:
        return tensor_to_array(value)
    if attr.type == onnx.AttributeProto.TENSORS:
        return [tensor_to_array(t) for t in value]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return tuple(v.decode("utf-8") for v in value)
    if isinstance(value, list):
        return tuple(value)
    return value
