"""Standard forms: onnxruntime's contrib ops written with default-domain ONNX ops only,
for `export_onnx(..., standard_only=True)`.

One form per op, in a module per family beside the op's import spec
(`converters/ops/contrib_<family>.py` ↔ `standard_forms/<family>.py`). A form picks the
newest standard op the export opset has (Attention, RMSNormalization and
RotaryEmbedding at 23, Gelu at 20, LayerNormalization at 17, blocked DequantizeLinear
at 21) and otherwise writes its decomposition.
"""

from __future__ import annotations

from typing import Any

import onnx

from axonnx.converters.onnx_writer import Writer, is_float, value_dtype
from axonnx.converters.standard_forms import (  # noqa: F401  (register their forms)
    activations,
    attention,
    decoder,
    norm,
    qlinear,
    quant,
)
from axonnx.converters.standard_forms._base import FORMS, Call
from axonnx.errors import UnsupportedOpError
from axonnx.node import Node

__all__ = [
    "STANDARD_DOMAINS",
    "forms",
    "is_standard",
    "used_domains",
    "used_initializers",
    "write_standard",
]

STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview", "ai.onnx.preview.training")
"""The domains the ONNX standard defines."""


def forms() -> dict[tuple[str, str, int], Any]:
    """The registered standard forms by (domain, op type, since-version)."""
    return dict(FORMS)


def is_standard(node: Node) -> bool:
    """Whether an imported ONNX node is a standard ONNX op (not an onnxruntime contrib
    op, nor one of the two it adds to the default domain at since-version 1)."""
    meta = node.meta
    key = (meta["domain"], meta["op_type"], meta.get("opset"))
    return meta["domain"] in STANDARD_DOMAINS and key not in FORMS


def write_standard(writer: Writer, node: Node, inputs: list[str], attributes: dict) -> list[str]:
    """Write `node` in its standard form; its output names, `""` for those not read."""
    meta = node.meta
    form = FORMS.get((meta["domain"], meta["op_type"], meta.get("opset")))
    if form is None:
        raise UnsupportedOpError(
            f"export_onnx(standard_only=True): {meta['op_type']} ({meta['domain'] or 'ai.onnx'}) "
            f"of node {meta.get('onnx_name', '')!r} has no standard form; "
            "export without standard_only"
        )
    names = [name or None for name in inputs]
    names += [None] * (len(node.parents) - len(names))
    call = Call(writer, node, names, _float_dtype(node))
    options = {k: v.decode() if isinstance(v, bytes) else v for k, v in attributes.items()}
    result = form(call, *names, **options)
    outputs = [result] if isinstance(result, str) else list(result)
    for index, produced in enumerate(outputs):
        if produced is None and call.wants(index):
            raise call.fail(f"output {index} has no standard form")
    return [o or "" for o in outputs]


def _float_dtype(node: Node) -> str:
    for parent in node.parents:
        dtype = value_dtype(parent)
        if isinstance(dtype, str) and is_float(dtype):
            return dtype
    return "float32"


def used_initializers(nodes: list, initializers: list) -> list:
    """The initializers some node (or a node of a subgraph) reads: a standard form
    replaces a packed weight by its unpacked copy, and the packed one goes."""
    used = {name for node in _all_nodes(nodes) for name in node.input}
    return [t for t in initializers if t.name in used]


def used_domains(nodes: list) -> set[str]:
    """The domains of `nodes` and of the nodes of their subgraphs."""
    return {node.domain for node in _all_nodes(nodes)}


def _all_nodes(nodes):
    for node in nodes:
        yield node
        for attribute in node.attribute:
            graphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else []
            for graph in [*graphs, *attribute.graphs]:
                yield from _all_nodes(graph.node)
