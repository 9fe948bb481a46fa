"""The export table: what ONNX each built-in op becomes, generated from the exporters'
docstrings (never kept by hand).

python -m axonnx.converters.export_docs > docs/export.md
"""

from __future__ import annotations

import sys

from axonnx.converters import onnx_export
from axonnx.converters.jaxpr_export import primitive_markdown
from axonnx.ops import registered_ops

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
        "Custom layers, `ax.export_function` and `ax.export_grad` write each primitive as:",
        "",
        primitive_markdown(),
    ]
    return "\n".join(["# Export coverage", "", *notes, *rows, *primitives, ""])


if __name__ == "__main__":
    sys.stdout.write(export_markdown())
