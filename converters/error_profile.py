"""Error profiles for the HTML validation report: histograms, errors along the graph."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping

import numpy as np
import onnx

from axonnx.converters.graph_import import layer_name
from axonnx.converters.judgement import Judge
from axonnx.converters.report import ErrorHistogram, NodeError

__all__ = ["error_histogram", "node_errors", "scope_of"]

_BINS_PER_DECADE = 2


def error_histogram(expected, actual) -> ErrorHistogram | None:
    """The spread of |actual - expected| over log-spaced bins (half a decade each);
    None when the shapes differ or the values are not numbers."""
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape or expected.dtype == object or actual.dtype == object:
        return None
    e, a = expected.astype(np.float64).ravel(), actual.astype(np.float64).ravel()
    with np.errstate(invalid="ignore", over="ignore"):
        same = (e == a) | (np.isnan(e) & np.isnan(a))
        diff = np.abs(a - e)
    finite = np.isfinite(diff) & ~same
    zeros = int(same.sum())
    nonfinite = int((~same & ~np.isfinite(diff)).sum())
    if not finite.any():
        return ErrorHistogram([], [], zeros, nonfinite)
    logs = np.log10(np.maximum(diff[finite], np.finfo(np.float64).tiny))
    low = math.floor(logs.min() * _BINS_PER_DECADE) / _BINS_PER_DECADE
    high = math.floor(logs.max() * _BINS_PER_DECADE) / _BINS_PER_DECADE + 1 / _BINS_PER_DECADE
    edges = np.arange(low, high + 1e-9, 1 / _BINS_PER_DECADE)
    counts, _ = np.histogram(logs, bins=edges)
    return ErrorHistogram([float(x) for x in edges], [int(c) for c in counts], zeros, nonfinite)


def node_errors(
    proto: onnx.ModelProto,
    expected: Mapping[str, np.ndarray],
    kept: Mapping[str, np.ndarray],
    judge: Judge,
) -> list[NodeError]:
    """Every node output both runs computed (onnxruntime's `expected`, axonnx's `kept`),
    in the graph's order, each judged by `judge` (`judgement.judge_values`: the rule
    `validate` applies to the outputs, so a node is marked divergent exactly when
    bisecting would call it wrong)."""
    errors = []
    for index, node in enumerate(proto.graph.node):
        for output in node.output:
            if output not in expected or output not in kept:
                continue
            result = judge(output, expected[output], kept[output])
            scale = _largest(expected[output])
            scaled = result.max_abs_error / scale if scale > 0 else result.max_abs_error
            errors.append(
                NodeError(
                    index,
                    node.name or output,
                    node.op_type,
                    scope_of(node),
                    output,
                    result.max_abs_error,
                    result.max_rel_error,
                    scaled,
                    result.passed,
                )
            )
    return errors


def _largest(value) -> float:
    value = np.asarray(value)
    if value.dtype == object or not value.size:
        return 0.0
    magnitudes = np.abs(value.astype(np.float64))
    return float(np.max(magnitudes, where=np.isfinite(magnitudes), initial=0.0))


def scope_of(node: onnx.NodeProto) -> str:
    """The module path of a node: the innermost of the name scopes the dynamo exporter
    records (`['', 'encoder', 'encoder.layer.1', 'add_3']` → `encoder.layer.1`), else
    the scope in its name (`/encoder/layer.0/attention/MatMul` → `encoder.layer.0.attention`)."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                return prop.value
            if not isinstance(scopes, list):
                return prop.value
            modules = [str(s) for s in scopes[:-1] if s]  # the last is the node's own name
            return modules[-1] if modules else ""
    return layer_name(node, strip_op=True) or ""
