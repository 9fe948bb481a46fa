"""The table of import rules: which ONNX ops may import as which built-in layer.

A layer family's module in `axonnx.converters.layers` holds its import rule (registered
here with `@import_rule`) next to its export rule (`onnx_writer.exporter`); this module
imports none of them (`axonnx.converters.layer_rules` does), so the imports point down.
Each rule looks at one ONNX node (and, for MatMul + Add, its consumer); when the weights
it needs are initializers used by that node alone, it emits the built-in layer with the
weights as the layer's parameters, each remembering its ONNX initializer name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import numpy as np
import onnx

from axonnx.converters.graph_import import GraphImporter, domain_of, layer_name, onnx_meta
from axonnx.converters.registry import resolve
from axonnx.node import Node, ParamSpec

__all__ = ["ImportedLayer", "attrs_of", "import_rule", "layer_for", "match_layer", "single_output"]


Rule = Callable[[GraphImporter, onnx.NodeProto], bool]


_RULES: dict[str, tuple[str, Rule]] = {}


def import_rule(op_type: str, layer: str) -> Callable[[Rule], Rule]:
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
class ImportedLayer:
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
        node = Node(self.op, parents, tuple(specs), self.options, name=name, meta=meta)
        importer.values[output] = node
        return True


def _name_for(layer: ImportedLayer) -> str:
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


def attrs_of(proto: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in proto.attribute}


def single_output(proto: onnx.NodeProto) -> bool:
    return len([o for o in proto.output if o]) == 1
