"""Simplifying an ONNX graph at import: what can be computed once is computed once.

Before conversion, the top-level graph is rewritten:

- every node whose inputs are all constants (`Constant` nodes, initializers that are
  not trainable weights, values folded before it), and every `Shape`/`Size` of a value
  whose shape is static under the bound dimensions, is evaluated once with
  onnx's reference implementation (`onnx.reference`) and becomes an initializer under
  its output's name (an entry of a partly static shape, `Gather(Shape(x), 2)` where
  dimension 2 is static, folds too: `simplify_shapes`); outputs larger than their
  inputs and `_MAX_GROWTH` are not folded (a `ConstantOfShape` mask stays a node);
- `Identity` nodes, and `Cast`s to the type their input already has, disappear (their
  consumers read the input);
- a node that repeats an earlier one of its scope (same op, attributes and inputs) is
  dropped and its consumers read the earlier node's outputs;
- a folded value equal (dtype, shape and bytes) to an earlier constant becomes it;
- nodes that no graph output needs are removed.

Trainable weights are never folded, deduplicated or renamed, graph inputs and outputs
keep their names, and a dimension that `dims` does not bind stays symbolic (a `Shape`
of it is not static). Values that subgraphs (If/Loop/Scan bodies) read from this
scope keep their names; the bodies themselves are left as they are. Random ops,
ops of other domains and ops with subgraphs are never evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference.ops import load_op

from axonnx.converters.simplify_shapes import Partial, propagate, shape_partial

__all__ = ["GraphView", "Simplified", "simplify"]

_MAX_GROWTH = 1 << 16  # elements a folded value may have beyond those of its inputs
_NEVER = {
    "RandomNormal",
    "RandomNormalLike",
    "RandomUniform",
    "RandomUniformLike",
    "Multinomial",
    "Bernoulli",
    "Dropout",
}


@dataclass(frozen=True)
class GraphView:
    """The parts of a `GraphProto` the importer reads, without copying the weights."""

    name: str
    node: list[onnx.NodeProto]
    initializer: list[onnx.TensorProto]
    input: list[onnx.ValueInfoProto]
    output: list[onnx.ValueInfoProto]


@dataclass(frozen=True)
class Simplified:
    """A simplified graph, the initializers folding made, and what changed."""

    graph: GraphView
    constants: frozenset[str]  # initializers made by folding: constants, never weights
    counts: dict[str, int] = field(default_factory=dict)  # nodes before/after, by change


def simplify(
    graph: onnx.GraphProto,
    opsets: Mapping[str, int],
    *,
    shapes: Mapping[str, Any],
    weights: set[str],
    read: Callable[[onnx.TensorProto], np.ndarray],
) -> Simplified:
    """Fold constants and static shapes, drop identities, duplicates and dead nodes.

    Args:
        graph: the top-level ONNX graph.
        opsets: the model's opsets by domain (`""` for the default domain).
        shapes: ONNX value name → `(shape, dtype)`, symbolic dims bound or None.
        weights: initializer names that are trainable weights (never folded).
        read: the value of an initializer (called only for constants that fold).
    """
    folder = _Folder(graph, opsets, shapes, weights, read)
    nodes = folder.fold()
    nodes, folder.identities = _without_identities(nodes, folder, shapes)
    _deduplicate(folder)
    nodes = [_renamed(n, folder.alias) for n in nodes]
    nodes, repeated = _without_repeats(nodes, folder.protected, folder.alias)
    live = _live(nodes, graph.output)
    inputs = {v.name for v in graph.input}  # an initializer that is also an input stays
    kept = [t for t in graph.initializer if t.name in live.names or t.name in inputs]
    made = [numpy_helper.from_array(v, n) for n, v in folder.folded.items() if n in live.names]
    view = GraphView(graph.name, live.nodes, kept + made, list(graph.input), list(graph.output))
    counts = {
        "nodes_before": len(graph.node),
        "nodes_after": len(live.nodes),
        "folded": folder.count,
        "identities": folder.identities,
        "deduplicated": folder.duplicates,
        "repeated": repeated,
        "dead": len(nodes) - len(live.nodes),
    }
    return Simplified(view, frozenset(t.name for t in made), counts)


class _Folder:
    """Walks the nodes in order, evaluating those whose inputs are all known."""

    def __init__(self, graph, opsets, shapes, weights, read):
        self.opsets, self.shapes, self.read = opsets, shapes, read
        overridable = {v.name for v in graph.input}
        self.declared = {t.name: tuple(t.dims) for t in graph.initializer}
        self.sources = {
            t.name: t
            for t in graph.initializer
            if t.name not in weights and t.name not in overridable
        }
        self.nodes = list(graph.node)
        self.protected = {o.name for o in graph.output} | _outer_names(self.nodes)
        self.values: dict[str, np.ndarray] = {}
        self.partial: dict[str, Partial] = {}  # shape vectors with some entries known
        self.folded: dict[str, np.ndarray] = {}
        self.alias: dict[str, str] = {}
        self.count = self.identities = self.duplicates = 0

    def fold(self) -> list[onnx.NodeProto]:
        """The nodes that stay (folded ones are now in `self.folded`)."""
        kept = []
        for node in self.nodes:
            results = self._evaluate(node) if self._foldable(node) else None
            if results is None and self._foldable(node):
                results = self._from_partial(node)
            if results is None:
                kept.append(node)
                continue
            self.count += 1
            for name, value in zip(node.output, results, strict=False):
                if name:
                    self.values[name] = self.folded[name] = value
        return kept

    def value(self, name: str) -> np.ndarray | None:
        """The known value of `name`, reading a constant initializer on first use."""
        if name not in self.values and name in self.sources:
            self.values[name] = np.asarray(self.read(self.sources[name]))
        return self.values.get(name)

    def _from_partial(self, node: onnx.NodeProto) -> list[np.ndarray] | None:
        """The node's value when the entries it picks of a partly known shape are all
        static; else None, noting what is known of its output."""
        if node.op_type == "Shape":
            partial = shape_partial(node, self._shape(node.input[0]))
        elif any(i in self.partial for i in node.input):
            partial = propagate(node, lambda n: self.partial.get(n, self.value(n)))
        else:
            return None
        if partial is None:
            return None
        value = partial.value()
        if value is None:
            self.partial[node.output[0]] = partial
            return None
        return [value]

    def _shape(self, name: str) -> tuple[int | None, ...] | None:
        if name in self.values:
            return self.values[name].shape
        if name in self.declared:
            return self.declared[name]
        shape = (self.shapes.get(name) or (None, None))[0]
        return None if shape is None else tuple(shape)

    def _foldable(self, node: onnx.NodeProto) -> bool:
        if node.domain not in ("", "ai.onnx") or node.op_type in _NEVER:
            return False
        if any(a.type in (a.GRAPH, a.GRAPHS) for a in node.attribute):
            return False
        return not any(o in self.protected for o in node.output)

    def _inputs(self, node: onnx.NodeProto) -> list[np.ndarray | None] | None:
        if node.op_type in ("Shape", "Size") and node.input[0] not in self.sources:
            shape = self._static_shape(node.input[0])
            return None if shape is None else [np.broadcast_to(np.uint8(0), shape)]
        values = [self.value(i) if i else None for i in node.input]
        if any(v is None for v, i in zip(values, node.input, strict=True) if i):
            return None
        return values

    def _static_shape(self, name: str) -> tuple[int, ...] | None:
        shape = self._shape(name)
        return shape if shape is not None and None not in shape else None

    def _evaluate(self, node: onnx.NodeProto) -> list[np.ndarray] | None:
        inputs = self._inputs(node)
        if inputs is None:
            return None
        try:
            results = _run(node, inputs, self.opsets)
        except Exception:  # noqa: BLE001  (not foldable here; the node runs at run time)
            return None
        limit = _MAX_GROWTH + sum(v.size for v in inputs if v is not None)
        if node.op_type != "Constant" and sum(r.size for r in results) > limit:
            return None
        return results


def _run(node: onnx.NodeProto, inputs: list, opsets: Mapping[str, int]) -> list[np.ndarray]:
    """The node's outputs from onnx's reference implementation."""
    version = opsets.get("", opsets.get("ai.onnx", 1))
    op = load_op("", node.op_type, version)(node, _RUN_PARAMS | {"opsets": dict(opsets)})
    results = op.run(*inputs) if inputs else op.run()
    results = results if isinstance(results, tuple | list) else (results,)
    tensors = all(isinstance(r, np.ndarray | np.generic) for r in results)
    if not tensors or len(results) < len([o for o in node.output if o]):
        # a sequence, map or optional (SequenceEmpty, SplitToSequence, ...) is no tensor
        raise TypeError(f"{node.op_type}: not a tensor output")
    arrays = [np.asarray(r) for r in results]
    for array in arrays:
        numpy_helper.from_array(array)  # raises for what an initializer cannot hold
    return arrays


_RUN_PARAMS = {
    "log": lambda pattern, *args: None,
    "verbose": 0,
    "new_ops": None,
    "existing_functions": {},
    "evaluator_cls": None,
}


def _outer_names(nodes: list[onnx.NodeProto]) -> set[str]:
    """Names that subgraphs of `nodes` may read from the enclosing scope."""
    names: set[str] = set()
    for node in nodes:
        for graph in _subgraphs(node):
            for inner in graph.node:
                names.update(inner.input)
                names |= _outer_names([inner])
            names.update(o.name for o in graph.output)
    return names


def _subgraphs(node: onnx.NodeProto) -> Iterator[onnx.GraphProto]:
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield attr.g
        yield from attr.graphs


def _without_identities(nodes, folder: _Folder, shapes) -> tuple[list, int]:
    """The nodes without removable `Identity`s and no-op `Cast`s (aliases noted in
    `folder.alias`), and how many went."""
    kept = []
    for node in nodes:
        out = node.output[0] if node.output else ""
        if _is_identity(node, shapes) and out not in folder.protected:
            folder.alias[out] = _resolve(node.input[0], folder.alias)
            continue
        kept.append(node)
    return kept, len(nodes) - len(kept)


def _is_identity(node: onnx.NodeProto, shapes: Mapping[str, Any]) -> bool:
    if node.domain not in ("", "ai.onnx") or len(node.output) != 1:
        return False
    if node.op_type == "Identity":
        return True
    if node.op_type != "Cast":
        return False
    to = next((a.i for a in node.attribute if a.name == "to"), None)
    dtype = (shapes.get(node.input[0]) or (None, None))[1]
    return to is not None and dtype is not None and _dtype_name(to) == dtype


def _dtype_name(code: int) -> str | None:
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(code).name
    except (KeyError, ValueError, TypeError):
        return None


def _without_repeats(nodes, protected: set[str], alias: dict[str, str]) -> tuple[list, int]:
    """Common subexpressions: a node equal to an earlier one (op, attributes, inputs)
    goes; its outputs become aliases of the earlier node's."""
    seen: dict[tuple, onnx.NodeProto] = {}
    kept = []
    for node in nodes:
        node = _renamed(node, alias)
        key = (_scope(node), node.domain, node.op_type, tuple(node.input), _attributes_key(node))
        first = seen.get(key)
        repeat = first is not None and len(first.output) == len(node.output)
        if repeat and node.op_type not in _NEVER and not set(node.output) & protected:
            for mine, theirs in zip(node.output, first.output, strict=True):
                if mine:
                    alias[mine] = theirs
            continue
        seen.setdefault(key, node)
        kept.append(node)
    return kept, len(nodes) - len(kept)


def _scope(node: onnx.NodeProto) -> str:
    """The node's module scope (its name up to the last `/`, or the dynamo exporter's
    name scopes): repeats merge only inside one scope, so that repeated blocks (the
    layers of an encoder) stay alike and the summary still collapses them."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            return prop.value.rsplit(",", 1)[0]
    return node.name.rsplit("/", 1)[0] if "/" in node.name else ""


def _attributes_key(node: onnx.NodeProto) -> bytes | None:
    """The attributes' bytes; None (never equal) for nodes with subgraphs."""
    if any(a.type in (a.GRAPH, a.GRAPHS) for a in node.attribute):
        return id(node).to_bytes(8, "little")
    return b"".join(a.SerializeToString() for a in sorted(node.attribute, key=lambda a: a.name))


def _deduplicate(folder: _Folder) -> None:
    """Map every folded value equal to a constant before it onto that one (aliases in
    `folder.alias`); the file's initializers are never merged, so they stay countable."""
    seen: dict[tuple, str] = {}
    small = [n for n, t in folder.sources.items() if math.prod(t.dims) <= _MAX_GROWTH]
    for name in [*small, *folder.folded]:
        value = folder.value(name)
        if value is None or name in folder.protected or value.dtype == object:
            continue
        key = (value.dtype.str, value.shape, value.tobytes())
        if key not in seen:
            seen[key] = name
        elif name in folder.folded:  # the file's own initializers all stay
            folder.alias[name] = seen[key]
            folder.duplicates += 1


def _renamed(node: onnx.NodeProto, alias: Mapping[str, str]) -> onnx.NodeProto:
    if not any(i in alias for i in node.input):
        return node
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    copy.input[:] = [_resolve(i, alias) for i in node.input]
    return copy


def _resolve(name: str, alias: Mapping[str, str]) -> str:
    while name in alias:
        name = alias[name]
    return name


@dataclass
class _Live:
    nodes: list[onnx.NodeProto]
    names: set[str]


def _live(nodes: list[onnx.NodeProto], outputs) -> _Live:
    """The nodes some graph output needs, and every name they (and outputs) read."""
    needed = {o.name for o in outputs}
    kept = []
    for node in reversed(nodes):
        if not any(o in needed for o in node.output):
            continue
        kept.append(node)
        needed.update(node.input)
        needed |= _outer_names([node])
    return _Live(kept[::-1], needed)
