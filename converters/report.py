"""Validation reports: per-output error figures, a verdict, and their renderings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import ml_dtypes  # noqa: F401  (np.dtype("bfloat16"))
import numpy as np

__all__ = [
    "ErrorHistogram",
    "NodeError",
    "NodeReport",
    "OutputReport",
    "Report",
    "RequantizationCheck",
    "compare",
    "default_tolerance",
]

# (rtol, atol, scale): an element passes when |actual - expected| <= atol_total +
# rtol * |expected|, where atol_total = atol + scale * (largest finite |expected| of the
# output). The scale term is the rounding that accumulates over a deep network: float32
# sums are exact to a fraction of the magnitudes summed, not of the result, so outputs
# near zero in a tensor of large values carry absolute errors of that tensor's size.
# float16's rtol (5 ulp) still catches a weight tensor scaled by 1.01: an fp16 ResNet-18's
# logits differ from onnxruntime's by 6e-4 of their largest magnitude, 1e-3 here.
_TOLERANCES = {
    "float64": (1e-7, 1e-9, 1e-12),
    "float32": (1e-4, 1e-5, 1e-5),
    "float16": (5e-3, 1e-3, 1e-3),
    "bfloat16": (2e-2, 1e-2, 1e-2),
}


def default_tolerance(dtype: Any, expected: Any = None) -> tuple[float, float]:
    """(rtol, atol) for a dtype: loose for low precision floats, exact for integers.

    With `expected` (the reference output), atol grows with its largest finite
    magnitude (see `_TOLERANCES`): 1e-5 of it for float32.
    """
    rtol, atol, scale = _TOLERANCES.get(np.dtype(dtype).name, (0.0, 0.0, 0.0))
    if expected is not None and scale:
        magnitudes = np.abs(np.asarray(expected))  # in its own dtype: no float64 copy
        atol += scale * float(np.max(magnitudes, where=np.isfinite(magnitudes), initial=0.0))
    return rtol, atol


@dataclass
class OutputReport:
    """How one output (or intermediate value) of axonnx compares with onnxruntime."""

    name: str
    expected_shape: list[int]
    actual_shape: list[int]
    dtype: str
    max_abs_error: float
    max_rel_error: float
    mismatches: int
    nonfinite: int  # NaN/Inf in axonnx's value where onnxruntime's is finite
    rtol: float
    atol: float
    passed: bool
    precision: str = ""  # the dtype whose tolerance was used (the model's lowest float)
    step: float | None = None  # the quantization step of the value, where known
    within_step: bool = False  # outside tolerance, but within one quantization step
    requantized: bool = False  # outside tolerance, explained by run-time quantization

    @property
    def verdict(self) -> str:
        """`ok`, `within one quantization step`, `within run-time quantization` or
        `MISMATCH`."""
        if not self.passed:
            return "MISMATCH"
        if self.requantized:
            return "within run-time quantization"
        return "within one quantization step" if self.within_step else "ok"


@dataclass
class RequantizationCheck:
    """Whether run-time quantization (DynamicQuantizeLinear) explains the outputs'
    differences: axonnx's own quantized activations are within one step of
    onnxruntime's, and the rest of the graph, fed onnxruntime's quantized activations,
    gives onnxruntime's outputs within tolerance (`outputs`: those comparisons)."""

    quantizers: int  # DynamicQuantizeLinear nodes replayed
    elements: int  # quantized activation elements compared
    one_step: int  # of them, one step from onnxruntime's (a rounding boundary)
    max_steps: float  # the largest difference, in steps of their grids
    scales_agree: bool  # the run-time scales within float tolerance of onnxruntime's
    outputs: list[OutputReport] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """One step at most, same scales, and every replayed output within tolerance."""
        replayed = all(o.passed for o in self.outputs)
        return self.max_steps <= 1 and self.scales_agree and replayed

    def __str__(self) -> str:
        worst = max((o.max_abs_error for o in self.outputs), default=0.0)
        return (
            f"run-time quantization: {self.one_step} of {self.elements} activation values "
            f"quantized by {self.quantizers} DynamicQuantizeLinear are one step from "
            f"onnxruntime's (largest: {self.max_steps:g} steps); fed onnxruntime's quantized "
            f"activations, axonnx gives its outputs within tolerance: "
            f"{'yes' if all(o.passed for o in self.outputs) else 'NO'} (max abs {worst:.3g})"
        )


@dataclass
class NodeReport:
    """The first node whose output is outside tolerance (bisecting)."""

    name: str
    op_type: str
    opset: int | None
    input_shapes: list[list[int] | None]
    output: OutputReport


@dataclass
class ErrorHistogram:
    """How the elementwise errors |axonnx - onnxruntime| of one output are spread.

    `counts[i]` errors lie in `[10**log_edges[i], 10**log_edges[i + 1])`; `zeros` are
    exact, `nonfinite` are NaN or infinite (one side only).
    """

    log_edges: list[float]
    counts: list[int]
    zeros: int
    nonfinite: int


@dataclass
class NodeError:
    """How one node's output compares, for the plot along the graph (`--bisect`)."""

    index: int  # the node's position in the graph's (topological) order
    name: str
    op_type: str
    scope: str
    output: str
    max_abs_error: float
    max_rel_error: float  # elementwise, as in `OutputReport`
    scaled_error: float  # max |error| / max |expected|: relative to the tensor's size
    passed: bool


@dataclass
class Report:
    """The result of `validate`: a verdict per output, and the first wrong node if asked.

    `histograms` (by output name) and, when bisecting, `node_errors` (every compared
    intermediate value in graph order) feed the HTML report.
    """

    model: str
    outputs: list[OutputReport] = field(default_factory=list)
    first_wrong_node: NodeReport | None = None
    bisected: bool = False
    precision: str | None = None  # the lowest float precision the model computes in
    histograms: dict[str, ErrorHistogram | None] = field(default_factory=dict)
    node_errors: list[NodeError] = field(default_factory=list)
    requantization: RequantizationCheck | None = None  # where run-time quantization was

    @property
    def passed(self) -> bool:
        """True when every output is within tolerance."""
        return all(o.passed for o in self.outputs)

    def to_dict(self) -> dict:
        """A JSON-ready dict (the `--json` report's schema)."""
        return {
            "model": self.model,
            "passed": self.passed,
            "bisected": self.bisected,
            "precision": self.precision,
            "outputs": [{**asdict(o), "verdict": o.verdict} for o in self.outputs],
            "first_wrong_node": asdict(self.first_wrong_node) if self.first_wrong_node else None,
            "requantization": asdict(self.requantization) if self.requantization else None,
        }

    def __str__(self) -> str:
        rows = [("output", "shape", "dtype", "max abs", "max rel", "mismatches", "verdict")]
        for o in self.outputs:
            rows.append(
                (
                    o.name,
                    str(tuple(o.actual_shape)),
                    o.dtype,
                    f"{o.max_abs_error:.3g}",
                    f"{o.max_rel_error:.3g}",
                    str(o.mismatches),
                    o.verdict,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [f"{self.model}: {'PASS' if self.passed else 'FAIL'}{self._judged_by()}"]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
        if self.requantization is not None:
            lines.append(f"  {self.requantization}")
        if self.first_wrong_node is not None:
            node = self.first_wrong_node
            lines.append(
                f"  first wrong node: {node.name!r} ({node.op_type}, opset {node.opset}), "
                f"inputs {node.input_shapes}, output {node.output.name!r} max abs "
                f"{node.output.max_abs_error:.3g}"
            )
        elif self.bisected and not self.passed:
            lines.append("  bisect: no intermediate value differs; only the final outputs do")
        return "\n".join(lines)

    def _judged_by(self) -> str:
        """The header's note on the tolerance: `(float16 tolerance: the model computes
        in float16)` where the model computes below its outputs' precision."""
        used = {o.precision for o in self.outputs if o.precision and o.precision != o.dtype}
        if self.precision and used == {self.precision}:
            return f" ({self.precision} tolerance: the model computes in {self.precision})"
        return f" ({self.precision} tolerance)" if self.precision else ""


def compare(
    name: str,
    expected: Any,
    actual: Any,
    rtol: float | None = None,
    atol: float | None = None,
    *,
    precision: str | None = None,
    step: float | None = None,
) -> OutputReport:
    """Error figures of `actual` (axonnx) against `expected` (onnxruntime).

    `precision`: the lowest float dtype the model computes in; a float output of a
    higher dtype gets its default tolerance. `step`: the value's quantization step; an
    element outside tolerance but within one step passes as "within one quantization
    step".
    """
    expected, actual = np.asarray(expected), np.asarray(actual)
    judged = _judging_dtype(expected.dtype, precision)
    default_rtol, default_atol = default_tolerance(judged, expected)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    if expected.shape != actual.shape or expected.dtype == object:
        same = expected.shape == actual.shape and bool(np.all(expected == actual))
        return OutputReport(
            name,
            list(expected.shape),
            list(actual.shape),
            expected.dtype.name,
            0.0 if same else float("inf"),
            0.0 if same else float("inf"),
            0 if same else max(expected.size, 1),
            0,
            rtol,
            atol,
            same,
            judged.name,
            step,
        )
    e, a = expected.astype(np.float64), actual.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - e)
        diff = np.where((np.isnan(e) & np.isnan(a)) | (np.isinf(e) & (e == a)), 0.0, diff)
        bad = (diff > atol + rtol * np.abs(e)) | np.isnan(diff)
        rel = diff / np.maximum(np.abs(e), np.finfo(np.float64).tiny)
    within_step = bool(bad.any()) and step is not None and _max(diff) <= _one_step(step, atol)
    return OutputReport(
        name,
        list(expected.shape),
        list(actual.shape),
        expected.dtype.name,
        _max(diff),
        _max(rel),
        int(bad.sum()),
        int((~np.isfinite(a) & np.isfinite(e)).sum()),
        rtol,
        atol,
        within_step or not bool(bad.any()),
        judged.name,
        step,
        within_step,
    )


def _judging_dtype(dtype: np.dtype, precision: str | None) -> np.dtype:
    """The output's own dtype, or `precision` where that is a lower float precision."""
    if precision is None or dtype.kind != "f" or dtype.name not in _TOLERANCES:
        return dtype
    return np.dtype(precision) if _TOLERANCES[precision] > _TOLERANCES[dtype.name] else dtype


def _one_step(step: float, atol: float) -> float:
    """The largest difference one quantization step allows: the step (with float32
    slack for the products that rescale it) plus the absolute tolerance."""
    return step * (1 + 1e-3) + atol


def _max(values: np.ndarray) -> float:
    """The largest value; NaN (a NaN difference) counts as infinitely large."""
    if not values.size:
        return 0.0
    return float(np.max(np.where(np.isnan(values), np.inf, values)))
