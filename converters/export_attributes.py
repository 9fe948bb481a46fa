"""Which options of an imported ONNX node are written back as its attributes, read from
the op's schema (onnx.defs) at the node's own opset and at the export opset."""

from __future__ import annotations

import onnx

from axonnx.converters.onnx_writer import Writer
from axonnx.errors import UnsupportedOpError
from axonnx.node import Node

__all__ = ["node_attributes", "several_outputs", "trim_inputs"]


_OUTPUT_COUNT = "num_outputs"
"""The option the importer adds to a node whose op function takes its output count
(Split without sizes), whether or not the ONNX node had the attribute."""


def node_attributes(writer: Writer, node: Node, options: dict, inputs: list[str]) -> dict:
    """The options of an imported node that are ONNX attributes of its op, as the
    op's schema (onnx.defs) allows them at the export opset.

    The importer adds options of its own (the output count, import-hook results such
    as Gradient's forward graph): only names the schema of the node's own opset
    declares are attributes. The output count is written only where the original
    node must have had it: where the export opset's schema declares it and the node
    gives none of the op's optional inputs (onnx defines `num_outputs` only for
    Split >= 18, which forbids it next to the `split` input; onnxruntime then refuses
    the model, and onnx's checker notices only when the split dimension is known).
    An attribute of the node's opset that the export opset no longer has (it became
    an input, say) cannot be written, and is an error rather than dropped.
    """
    domain, op_type = node.meta["domain"], node.meta["op_type"]
    source = _schema(op_type, domain, node.meta.get("opset"))
    if source is None:  # no schema (a custom domain): the options as imported
        return options
    target = _schema(op_type, domain, writer.opset if domain in ("", "ai.onnx") else None)
    target = target or source
    attributes = {k: v for k, v in options.items() if k in source.attributes}
    if _OUTPUT_COUNT in attributes and (
        _OUTPUT_COUNT not in target.attributes or _optional_inputs_given(target, inputs)
    ):
        del attributes[_OUTPUT_COUNT]
    lost = sorted(set(attributes) - set(target.attributes))
    if lost:
        raise UnsupportedOpError(
            f"export_onnx: node {node.meta.get('onnx_name') or op_type!r}: {op_type}-"
            f"{target.since_version} (opset {writer.opset}) has no attribute {', '.join(lost)} "
            f"of {op_type}-{source.since_version}; export at the model's own opset"
        )
    return attributes


def _schema(op_type: str, domain: str, version: int | None) -> onnx.defs.OpSchema | None:
    if not version:
        return None
    try:
        return onnx.defs.get_schema(op_type, max_inclusive_version=version, domain=domain)
    except onnx.defs.SchemaError:
        return None


def _optional_inputs_given(schema: onnx.defs.OpSchema, inputs: list[str]) -> bool:
    optional = onnx.defs.OpSchema.FormalParameterOption.Optional
    return any(
        formal.option == optional and position < len(inputs) and inputs[position]
        for position, formal in enumerate(schema.inputs)
    )


def several_outputs(node: Node) -> bool:
    """Whether the importer indexes this node's outputs (it does for every op whose
    schema allows several, as MaxPool's optional Indices)."""
    if len(node.meta.get("outputs", [])) > 1:
        return True
    try:
        schema = onnx.defs.get_schema(
            node.meta["op_type"],
            max_inclusive_version=node.meta.get("opset") or 1,
            domain=node.meta["domain"],
        )
    except onnx.defs.SchemaError:
        return False
    return schema.max_output > 1


def trim_inputs(inputs: list[str]) -> list[str]:
    while inputs and inputs[-1] == "":
        inputs = inputs[:-1]
    return list(inputs)
