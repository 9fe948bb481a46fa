"""ONNX → axonnx: turn an ONNX model into a graph-node model and its state."""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Mapping

import onnx
import onnx.version_converter

from axonnx.converters.file_weights import load_lazily
from axonnx.converters.graph_import import (
    GraphImporter,
    domain_of,
    gather_outputs,
    read_initializer,
)
from axonnx.converters.layer_rules import match_layer
from axonnx.converters.loading import load_model
from axonnx.converters.registry import resolve
from axonnx.converters.schema_check import check_schemas
from axonnx.converters.simplify import simplify as simplify_graph
from axonnx.converters.value_types import infer_value_types, typed_container
from axonnx.converters.weights import count_initializers, initializer_roles
from axonnx.errors import UnsupportedOpError
from axonnx.node import Node
from axonnx.state import ModelState

__all__ = ["import_onnx", "unsupported_ops"]

Source = str | os.PathLike | bytes | onnx.ModelProto


def import_onnx(
    source: Source, *, dims: Mapping[str, int] | None = None, simplify: bool = True
) -> tuple[Node, ModelState]:
    """Import an ONNX model as an axonnx model and its state.

    Args:
        source: path of an `.onnx` file, its bytes, or a `ModelProto`.
        dims: sizes for symbolic input dimensions, e.g. `{"batch": 1}`; unbound
            symbolic dimensions stay `None` (one compilation per distinct size).
        simplify: fold what depends only on constants and static shapes, drop
            identities, duplicate constants and dead nodes (`converters.simplify`);
            `model.meta["onnx_simplified"]` counts the nodes before and after.

    Returns:
        `(model, state)`. The model's output is a container keyed by the ONNX graph's
        output names. Weights sit in `state.params`: recognised layers under their
        layer name (`{"encoder.layer.0.query": {"kernel", "bias"}}`), other
        trainable weights under their initializer name; each keeps its ONNX name for
        export. Initializers that are not weights (`converters.weights`) are
        constants; `model.meta["onnx_initializers"]` counts both as the file holds them.

    Raises:
        InvalidModelError: listing every node that disagrees with its ONNX schema
            (attributes, input/output counts and types, subgraph signatures, Conv ranks).
        UnsupportedOpError: listing every (domain, op type, opset) without an
            implementation, with node counts, before anything is converted.

    >>> model, state = ax.import_onnx("models/mlp.onnx")        # doctest: +SKIP
    >>> ax.predict(model, state, {"x": x})["y"].shape           # doctest: +SKIP
    """
    proto, weights = load_lazily(source)
    check_schemas(proto)
    missing = unsupported_ops(proto.graph, _opsets(proto))
    if weights is not None and missing:
        proto, weights = load_model(source), None  # an upgrade needs the whole proto
    proto = _convertible(proto, missing)
    opsets, dims = _opsets(proto), dict(dims or {})
    types = infer_value_types(proto, dims)
    roles = initializer_roles(proto.graph, opsets)  # simplification leaves them as they are
    graph, constants, counts = proto.graph, frozenset(), {}
    if simplify:
        read = functools.partial(read_initializer, weights=weights)
        simple = simplify_graph(proto.graph, opsets, shapes=types, weights=set(roles), read=read)
        graph, constants, counts = simple.graph, simple.constants, simple.counts
    importer = GraphImporter(
        opsets,
        dims,
        weights=weights,
        match_layer=match_layer,
        constants=constants,
        roles=roles,
        types=types,
    )
    outputs = importer.run(graph)
    names = [o.name for o in proto.graph.output]
    meta = {
        "onnx_outputs": names,
        "onnx_strings": _uses_strings(proto.graph),
        "onnx_opsets": opsets,
        "onnx_producer": proto.producer_name,
        "onnx_initializers": count_initializers(proto.graph, roles),
    }
    if counts:
        meta["onnx_simplified"] = counts
    model = typed_container(gather_outputs({n: outputs[n] for n in names}).replace(meta=meta))
    return model, ModelState(importer.params, importer.state)


_STRING = onnx.TensorProto.STRING


def _uses_strings(graph: onnx.GraphProto) -> bool:
    """Whether a graph computes with strings: string inputs, outputs or initializers,
    casts to strings, string constants, or ONNX-ML ops (labels may be strings)."""
    values = [*graph.input, *graph.output]
    if any(v.type.tensor_type.elem_type == _STRING for v in values):
        return True
    if any(t.data_type == _STRING for t in graph.initializer):
        return True
    for node in graph.node:
        if node.domain == "ai.onnx.ml" or node.op_type.startswith("String"):
            return True
        for attr in node.attribute:
            if (attr.name == "to" and attr.i == _STRING) or attr.t.data_type == _STRING:
                return True
    return False


def _opsets(proto: onnx.ModelProto) -> dict[str, int]:
    return {
        (imp.domain if imp.domain != "ai.onnx" else ""): imp.version for imp in proto.opset_import
    }


_UPGRADE_TARGETS = (7, 9, 11, 13, 17, 21)


def _convertible(proto: onnx.ModelProto, missing: Counter) -> onnx.ModelProto:
    """`proto` itself when axonnx supports every op (`missing`, from `unsupported_ops`,
    is empty); otherwise the same model upgraded to a newer opset by
    `onnx.version_converter` when that makes every op supported.

    Raises `UnsupportedOpError` listing every unsupported op of the original model.
    """
    if not missing:
        return proto
    current = _opsets(proto).get("", 0)
    for target in (t for t in _UPGRADE_TARGETS if t > current):
        try:
            upgraded = onnx.version_converter.convert_version(proto, target)
        except Exception:  # noqa: BLE001  (the converter raises many types; try the next)
            continue
        if not unsupported_ops(upgraded.graph, _opsets(upgraded)):
            return upgraded
    raise UnsupportedOpError(describe_missing(missing))


def unsupported_ops(graph: onnx.GraphProto, opsets: Mapping[str, int]) -> Counter:
    """Count the (domain, op type, opset) triples of `graph` and its subgraphs that
    axonnx cannot run."""
    missing: Counter = Counter()
    stack = [graph]
    while stack:
        current = stack.pop()
        for node in current.node:
            domain = domain_of(node)
            opset = opsets.get(domain)
            spec = resolve(domain, node.op_type, opset)[0] if opset else None
            if spec is None:
                missing[(domain or "ai.onnx", node.op_type, opset)] += 1
            stack.extend(a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH)
            stack.extend(g for a in node.attribute for g in a.graphs)
    return missing


def describe_missing(missing: Counter) -> str:
    """One line listing every unsupported op with its domain, opset and node count."""
    parts = [
        f"{t} (domain {d}, opset {o}) ×{n}" for (d, t, o), n in sorted(missing.items(), key=str)
    ]
    return f"unsupported ONNX ops: {'; '.join(parts)}"
