"""Primitives with no faithful ONNX form: each is registered so that the table names
it and an export fails with the reason, instead of a bare "no mapping"."""

from __future__ import annotations

from axonnx.converters.jaxpr_export.tracer import PRIMITIVES, Tracer, rule
from axonnx.errors import UnsupportedOpError

__all__ = ["NOT_EXPORTABLE"]

_COMPLEX = "onnxruntime has no complex tensors"

NOT_EXPORTABLE: dict[str, str] = {
    "complex": _COMPLEX,
    "conj": _COMPLEX,
    "real": _COMPLEX,
    "imag": _COMPLEX,
    "fft": "its results are complex (" + _COMPLEX + "); ONNX DFT needs a real/imaginary "
    "trailing axis that the jaxpr's other primitives cannot carry",
    "eig": "its results are complex, and LAPACK geev returns the eigenvalues in the order "
    "its Francis QR iteration deflates them, which no other algorithm reproduces",
}
"""Each primitive without an ONNX form, and why."""


def _refuse(t: Tracer, eqn, args: list[str]) -> str:
    name = eqn.primitive.name
    raise UnsupportedOpError(
        f"{t.where}: the jaxpr primitive {name!r} is not exportable: {NOT_EXPORTABLE[name]}"
    )


for _name, _reason in NOT_EXPORTABLE.items():
    if _name not in PRIMITIVES:  # a rule of another module maps it
        rule(_name, onnx=f"**not exportable**: {_reason}")(_refuse)
