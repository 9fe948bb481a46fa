"""The export table: what ONNX each built-in op becomes, generated from the exporters'
docstrings (never kept by hand).

python -m tools.export_docs > docs/export.md
"""

from __future__ import annotations

import sys

from axonnx.converters import onnx_export, standard_forms
from axonnx.converters.jaxpr_export import primitive_markdown
from axonnx.op_table import registered_ops

__all__ = ["built_in_ops", "export_markdown"]

_STRUCTURE = ("input", "param", "constant", "none", "container", "namespace", "getitem")


def built_in_ops() -> list[str]:
    """The ops of the model creation API (not imported ONNX ops, not custom layers)."""
    import axonnx  # noqa: F401  (registers every built-in op)

    ops = registered_ops()
    return sorted(op for op in ops if "::" not in op and not op.startswith("layer:"))


def _writes(op: str) -> str:
    fn = onnx_export.exporters().get(op)
    if op in _STRUCTURE:
        return "no node: wiring of the graph (inputs, initializers, names)"
    if fn is None or not fn.__doc__:
        return "**not exported**"
    first = fn.__doc__.strip().splitlines()[0]
    return first.removeprefix("ONNX:").strip()


def export_markdown() -> str:
    """A markdown table: each built-in op and the ONNX ops it is written as."""
    rows = ["| op | ONNX |", "|---|---|"]
    rows += [f"| {op} | {_writes(op)} |" for op in built_in_ops()]
    custom = _writes("layer:")
    notes = [
        "Imported ONNX nodes are written back as the op they came from, with their "
        "attributes, subgraphs and initializer names.",
        f"Custom layers: {custom}",
        "",
    ]
    primitives = [
        "",
        "## jaxpr primitives",
        "",
        "Custom layers, `ax.export_function` and `ax.export_grad` write each primitive as "
        "below. onnxruntime has no complex tensors: a complex value of shape S is carried "
        "as a float array of shape S + (2,) (real, imaginary part), inputs and outputs "
        "included.",
        "",
        primitive_markdown(),
    ]
    return "\n".join(["# Export coverage", "", *notes, *rows, *primitives, *_standard(), ""])


def _standard() -> list[str]:
    """The standard-only section: each contrib op and its standard form."""
    rows = ["| op | domain | standard form |", "|---|---|---|"]
    for (domain, op_type, version), form in sorted(standard_forms.forms().items()):
        first = " ".join((form.__doc__ or "").strip().split("\n\n")[0].split())
        rows.append(f"| {op_type}-{version} | {domain or 'ai.onnx'} | {first} |")
    return [
        "",
        "## Standard ONNX only",
        "",
        "`ax.export_onnx(model, state, path, standard_only=True)` (`axonnx export MODEL -o "
        "OUT --standard`) writes onnxruntime's contrib ops with default-domain ops only, so "
        "that a model fused for onnxruntime runs in any runtime. Each form uses the newest "
        "standard op the export opset has (`--opset 23` for Attention, RMSNormalization and "
        "RotaryEmbedding; 21 for blocked DequantizeLinear with int4/uint4 weights; 20 for "
        "Gelu; 17 for LayerNormalization) and writes a decomposition below it. Quantized "
        "ops become QDQ (DequantizeLinear, the float op, QuantizeLinear). An op or an "
        "attribute without a standard form is an error naming the node.",
        "",
        "onnxruntime fuses a blocked DequantizeLinear + MatMul pair back into MatMulNBits at "
        "accuracy level 4 (int8 activations) unless the session sets "
        "`session.qdq_matmulnbits_accuracy_level` to `0`, the level of the originals.",
        "",
        *rows,
    ]


if __name__ == "__main__":
    sys.stdout.write(export_markdown())
