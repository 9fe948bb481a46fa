"""Safety checks of one graph: unique names, each value produced once, every input
defined, no cycle, nodes in topological order, well-formed attributes (see
`axonnx.converters.safety`)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import onnx

from axonnx.converters.safety_tensors import check_sparse, check_tensor
from axonnx.errors import InvalidModelError, ResourceLimitError

__all__ = ["GraphCheck", "Scope", "node_label", "texts"]

_A = onnx.AttributeProto
_SINGLE_FIELDS = {_A.FLOAT: "f", _A.INT: "i", _A.STRING: "s", _A.TENSOR: "t", _A.GRAPH: "g"}
_SINGLE_FIELDS |= {_A.SPARSE_TENSOR: "sparse_tensor", _A.TYPE_PROTO: "tp"}
_ATTRIBUTE_TYPES = frozenset(_A.AttributeType.values()) - {_A.UNDEFINED}


class Scope:
    """The names a graph defines, chained to the scope of the graph enclosing it."""

    def __init__(self, names: set[str], parent: Scope | None):
        self.names, self.parent = names, parent

    def __contains__(self, name: str) -> bool:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return True
            scope = scope.parent
        return False


def node_label(node: onnx.NodeProto) -> str:
    """`node 'name' (OpType)`; an unnamed node goes by its first output."""
    name = node.name or (node.output[0] if node.output else "")
    return f"node {name!r} ({node.op_type})"


class GraphCheck:
    """The checks of one graph; `run` returns its subgraphs to check next."""

    def __init__(self, graph, outer: Scope | None, where: str, opsets, limit: int):
        self.graph, self.outer, self.where = graph, outer, where
        self.opsets, self.limit = opsets, limit
        self.raw_lengths: Mapping[str, int] | None = None
        self.subgraphs: list[tuple[onnx.GraphProto, Scope | None, str]] = []

    def run(self) -> list[tuple[onnx.GraphProto, Scope | None, str]]:
        defined = self._declared()
        produced = self._produced(defined)
        scope = Scope(defined | produced, self.outer)
        for node in self.graph.node:
            self._check_node(node, scope)
        self._check_order(defined)
        self._check_outputs(scope)
        return self.subgraphs

    def _declared(self) -> set[str]:
        graph, names = self.graph, set()
        inputs = [(v.name, "an input") for v in graph.input]
        tensors = [(t.name, "an initializer") for t in graph.initializer]
        sparse = [(s.values.name, "a sparse initializer") for s in graph.sparse_initializer]
        texts([n for n, _ in [*inputs, *tensors, *sparse]], self.where)
        for name, kind in [*inputs, *tensors, *sparse]:
            if not name:
                raise InvalidModelError(f"{self.where}: {kind} has an empty name")
        _unique([n for n, _ in inputs], f"{self.where}: graph input")
        _unique([n for n, _ in tensors + sparse], f"{self.where}: initializer")
        for tensor in graph.initializer:
            where = f"{self.where}: initializer {tensor.name!r}"
            raw = (self.raw_lengths or {}).get(tensor.name)
            check_tensor(tensor, where, self.limit, raw)
        for item in graph.sparse_initializer:
            check_sparse(item, f"{self.where}: sparse initializer {item.values.name!r}", self.limit)
        for value in graph.input:
            self._check_input_size(value)
        names.update(n for n, _ in [*inputs, *tensors, *sparse])
        return names

    def _check_input_size(self, value: onnx.ValueInfoProto) -> None:
        dims = value.type.tensor_type.shape.dim
        sizes = [d.dim_value for d in dims if d.HasField("dim_value")]
        if any(s < 0 for s in sizes):
            raise InvalidModelError(
                f"{self.where}: input {value.name!r}: expected dims >= 0, got {sizes}"
            )
        if math.prod(sizes) > self.limit:
            raise ResourceLimitError(
                f"{self.where}: input {value.name!r} declares {math.prod(sizes):,} elements "
                f"(dims {sizes}), more than the limit of {self.limit:,}. For a file you "
                "trust, raise AXONNX_MAX_ELEMENTS."
            )

    def _produced(self, defined: set[str]) -> set[str]:
        producer: dict[str, onnx.NodeProto] = {}
        for node in self.graph.node:
            for name in node.output:
                if not name:
                    continue
                if name in defined or name in producer:
                    first = node_label(producer[name]) if name in producer else "the graph"
                    raise InvalidModelError(
                        f"{self.where}: {node_label(node)}: output {name!r} is already "
                        f"defined by {first}; every value must be defined once"
                    )
                producer[name] = node
        return set(producer)

    def _check_node(self, node: onnx.NodeProto, scope: Scope) -> None:
        attributes = [a.name for a in node.attribute]
        texts([node.op_type, node.domain, node.name, *node.input, *node.output], self.where)
        texts(attributes, self.where)
        label = f"{self.where}: {node_label(node)}"
        if not node.op_type:
            raise InvalidModelError(f"{self.where}: a node has an empty op type")
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        if domain not in self.opsets:
            raise InvalidModelError(
                f"{label}: domain {domain or 'ai.onnx'!r} is not imported by the model "
                f"(opset_import has {sorted(self.opsets)}). Add it to opset_import."
            )
        for name in node.input:
            if name and name not in scope:
                raise InvalidModelError(
                    f"{label}: input {name!r} is not defined by any node, graph input "
                    "or initializer"
                )
        self._check_attributes(node, label, scope)

    def _check_attributes(self, node: onnx.NodeProto, label: str, scope: Scope) -> None:
        names = [a.name for a in node.attribute]
        if "" in names:
            raise InvalidModelError(f"{label}: an attribute has an empty name")
        _unique(names, f"{label}: attribute")
        for attr in node.attribute:
            where = f"{label}: attribute {attr.name!r}"
            self._check_attribute(attr, where, scope)

    def _check_attribute(self, attr: onnx.AttributeProto, where: str, scope: Scope) -> None:
        if attr.ref_attr_name:
            raise InvalidModelError(f"{where}: refers to a function attribute outside a function")
        if attr.type not in _ATTRIBUTE_TYPES:
            raise InvalidModelError(f"{where}: unknown attribute type {attr.type}")
        field = _SINGLE_FIELDS.get(attr.type)
        if field is not None and not attr.HasField(field):
            raise InvalidModelError(
                f"{where}: declared {_A.AttributeType.Name(attr.type)} but holds no value"
            )
        tensors = [attr.t] if attr.type == _A.TENSOR else list(attr.tensors)
        for tensor in tensors if attr.type in (_A.TENSOR, _A.TENSORS) else ():
            check_tensor(tensor, where, self.limit)
        sparse = [attr.sparse_tensor] if attr.type == _A.SPARSE_TENSOR else attr.sparse_tensors
        for item in sparse if attr.type in (_A.SPARSE_TENSOR, _A.SPARSE_TENSORS) else ():
            check_sparse(item, where, self.limit)
        graphs = [attr.g] if attr.type == _A.GRAPH else list(attr.graphs)
        for graph in graphs if attr.type in (_A.GRAPH, _A.GRAPHS) else ():
            self.subgraphs.append((graph, scope, f"{where} (subgraph)"))

    def _check_order(self, defined: set[str]) -> None:
        available = Scope(set(defined), self.outer)
        for node in self.graph.node:
            if any(n and n not in available for n in node.input):
                _raise_unordered(self.graph, defined, self.where)
            available.names.update(node.output)

    def _check_outputs(self, scope: Scope) -> None:
        names = [o.name for o in self.graph.output]
        texts(names, self.where)
        if "" in names:
            raise InvalidModelError(f"{self.where}: a graph output has an empty name")
        _unique(names, f"{self.where}: graph output")
        for name in names:
            if name not in scope:
                raise InvalidModelError(
                    f"{self.where}: output {name!r} is not defined by any node, input "
                    "or initializer"
                )


def texts(names, where: str) -> None:
    """Protobuf hands back names that are not valid UTF-8 as bytes: refuse them."""
    for name in names:
        if not isinstance(name, str):
            raise InvalidModelError(f"{where}: name {name!r} is not valid UTF-8 text")


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidModelError(f"{what} {name!r} appears more than once")
        seen.add(name)


def _raise_unordered(graph: onnx.GraphProto, defined: set[str], where: str) -> None:
    """Kahn's algorithm over the graph's nodes: name a cycle if there is one, else say
    the nodes are out of order (ONNX requires topological order)."""
    producer = {name: i for i, node in enumerate(graph.node) for name in node.output if name}
    children: list[list[int]] = [[] for _ in graph.node]
    waiting = [0] * len(graph.node)
    for i, node in enumerate(graph.node):
        parents = {producer[n] for n in node.input if n in producer and n not in defined}
        waiting[i] = len(parents)
        for p in parents:
            children[p].append(i)
    ready = deque(i for i, count in enumerate(waiting) if count == 0)
    done = 0
    while ready:
        i = ready.popleft()
        done += 1
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
    stuck = [node_label(graph.node[i]) for i, count in enumerate(waiting) if count > 0]
    if stuck:
        shown = ", ".join(stuck[:3]) + (f" and {len(stuck) - 3} more" if len(stuck) > 3 else "")
        raise InvalidModelError(f"{where}: the graph has a cycle through {shown}")
    raise InvalidModelError(
        f"{where}: nodes are not in topological order (ONNX requires every value to be "
        "defined before it is used). Sort the graph, e.g. with onnx.utils or onnxsim."
    )
