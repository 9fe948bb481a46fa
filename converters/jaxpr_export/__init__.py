"""JAX → ONNX at the level of jaxpr primitives: one module per primitive family, one
rule per primitive (`PRIMITIVES`), applied by `Tracer`.

Used by custom `ax.layer` export, `ax.export_function` and `ax.export_grad`.
"""

from __future__ import annotations

from axonnx.converters.jaxpr_export import (  # noqa: F401  (each module registers its rules)
    bessel,
    bitcast,
    bits,
    calls,
    complex_pairs,
    control,
    convolution,
    cumulative,
    eigen,
    elementwise,
    factor_steps,
    householder,
    incomplete,
    indexing,
    linalg,
    random_bits,
    reductions,
    shapes,
    sorting,
    special,
    triangular,
    windows,
    zeta,
)
from axonnx.converters.jaxpr_export.tracer import FORMS, PRIMITIVES, Tracer

__all__ = ["FORMS", "PRIMITIVES", "Tracer", "primitive_markdown"]


def primitive_markdown() -> str:
    """A markdown table: each mapped jaxpr primitive and the ONNX it is written as."""
    rows = ["| jaxpr primitive | ONNX |", "|---|---|"]
    rows += [f"| `{name}` | {FORMS[name]} |" for name in sorted(PRIMITIVES)]
    return "\n".join(rows)
