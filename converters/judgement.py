"""What `validate` judges a model's values by: the float precision the model computes
in, and the quantization step of values a DequantizeLinear produced.

An fp16 model with float32 inputs and outputs (onnxconverter-common's
`convert_float_to_float16(..., keep_io_types=True)`) computes in float16: its outputs
carry float16 rounding, so they are judged at float16 tolerance. A QDQ model
(`quantize_static(..., quant_format=QuantFormat.QDQ)`) means dequantize -> float op ->
quantize, but onnxruntime fuses those into integer kernels with their own
requantization rounding, so its values may differ by one step of the quantized grid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from axonnx.converters.report import OutputReport, compare

__all__ = [
    "Judge",
    "cut_at",
    "judge_values",
    "lowest_float_precision",
    "quantization_steps",
    "runtime_quantizers",
]

Judge = Callable[[str, Any, Any], OutputReport]
"""`judge(name, expected, actual)`: how a value of the model compares (see `judge_values`)."""

# Lowest precision first; float8/float4 hold quantized values but nothing computes in them.
_PRECISIONS = ("bfloat16", "float16", "float32", "float64")
_CODES = {
    onnx.TensorProto.BFLOAT16: "bfloat16",
    onnx.TensorProto.FLOAT16: "float16",
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.DOUBLE: "float64",
}

# Ops whose output element is one input element, or a max/min/mean of some: a step
# bound on the input's elements bounds the output's.
_KEEPS_STEP = frozenset(
    {
        "AveragePool",
        "Clip",
        "DepthToSpace",
        "Expand",
        "Flatten",
        "Gather",
        "GlobalAveragePool",
        "GlobalMaxPool",
        "Identity",
        "MaxPool",
        "ReduceMax",
        "ReduceMean",
        "ReduceMin",
        "Relu",
        "Reshape",
        "Slice",
        "SpaceToDepth",
        "Split",
        "Squeeze",
        "Tile",
        "Transpose",
        "Unsqueeze",
    }
)
_ALL_INPUTS_STEP = frozenset({"Concat", "Max", "Min"})


def judge_values(proto: onnx.ModelProto, rtol: float | None, atol: float | None) -> Judge:
    """The rule `validate` judges every value of `proto` by, outputs and intermediate
    values alike: `compare` at the model's lowest float precision (default tolerances
    where `rtol`/`atol` are None), with each value's quantization step where a
    DequantizeLinear with a known scale made it.

    >>> judge = judge_values(onnx.load("model.onnx"), None, None)   # doctest: +SKIP
    >>> judge("logits", expected, actual).verdict                   # doctest: +SKIP
    'ok'
    """
    precision = lowest_float_precision(proto)
    steps = quantization_steps(proto)

    def judge(name: str, expected: Any, actual: Any) -> OutputReport:
        step = steps.get(name)
        return compare(name, expected, actual, rtol, atol, precision=precision, step=step)

    return judge


def lowest_float_precision(proto: onnx.ModelProto) -> str | None:
    """The lowest float precision among the model's declared values, weights, casts and
    constants (`"float16"`, ...), or None for a model without float values."""
    found = {_CODES[code] for code in _float_codes(proto.graph) if code in _CODES}
    return next((p for p in _PRECISIONS if p in found), None)


def _float_codes(graph: onnx.GraphProto) -> Iterator[int]:
    for value in [*graph.input, *graph.output, *graph.value_info]:
        yield value.type.tensor_type.elem_type
    for tensor in graph.initializer:
        yield tensor.data_type
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type in ("Cast", "CastLike") and attr.name == "to":
                yield attr.i
            elif attr.type == onnx.AttributeProto.TENSOR:
                yield attr.t.data_type
            elif attr.type == onnx.AttributeProto.GRAPH:
                yield from _float_codes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from _float_codes(sub)


def quantization_steps(proto: onnx.ModelProto) -> dict[str, float]:
    """Value name -> its quantization step, for values one step of a quantized grid
    apart in two correct runs of the graph.

    A DequantizeLinear with a constant scale gives its output a step of that scale (the
    largest, for per-axis or blocked scales); a QuantizeLinear to an integer type gives
    one unit. Ops that pick, move or average elements (`_KEEPS_STEP`) pass the step on.
    """
    constants = _constants(proto.graph)
    steps: dict[str, float] = {}
    for node in proto.graph.node:
        step = _node_step(node, constants, steps)
        if step is not None:
            outputs = node.output[:1] if node.op_type == "DynamicQuantizeLinear" else node.output
            for output in outputs:
                if output:
                    steps[output] = step
    return steps


def runtime_quantizers(proto: onnx.ModelProto) -> list[onnx.NodeProto]:
    """The nodes that quantize activations at run time from their own range
    (DynamicQuantizeLinear, as `quantize_dynamic` writes them before MatMulInteger).

    Their scale comes from the float input's min and max, and a value on a rounding
    boundary of that grid lands on either neighbour in two correct runs (float sums in
    another order); the integer products after them then differ by whole weights, so
    no tolerance on the model's outputs separates that from an error. `validate`
    replays the rest of the graph from onnxruntime's quantized values instead.
    """
    return [
        n
        for n in proto.graph.node
        if n.op_type == "DynamicQuantizeLinear" and n.domain in ("", "ai.onnx")
    ]


def cut_at(
    proto: onnx.ModelProto, nodes: list[onnx.NodeProto], values: dict[str, np.ndarray]
) -> onnx.ModelProto:
    """A copy of `proto` without `nodes`, their outputs made graph inputs typed and
    shaped as `values` (the arrays to feed them), their float inputs made graph outputs
    (to quantize them again)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    cut = {id(n) for n in nodes}
    kept = [n for n, original in zip(copy.graph.node, proto.graph.node) if id(original) not in cut]
    del copy.graph.node[:]
    copy.graph.node.extend(kept)
    for node in nodes:
        for name in node.output:
            if name:
                value = np.asarray(values[name])
                code = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
                copy.graph.input.append(
                    onnx.helper.make_tensor_value_info(name, code, list(value.shape))
                )
    exposed = {v.name for v in [*copy.graph.input, *copy.graph.output]}
    for name in dict.fromkeys(n.input[0] for n in nodes):
        if name not in exposed:
            copy.graph.output.append(
                onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
            )
    return copy


def _node_step(node: onnx.NodeProto, constants: dict, steps: dict[str, float]) -> float | None:
    if node.domain not in ("", "ai.onnx"):
        return None
    if node.op_type == "DequantizeLinear":
        scale = constants.get(node.input[1])
        return None if scale is None or not scale.size else float(np.max(np.abs(scale)))
    if node.op_type == "DynamicQuantizeLinear":
        return 1.0  # uint8 values (its outputs 1 and 2 are the scale and zero point)
    if node.op_type == "QuantizeLinear":
        zero_point = constants.get(node.input[2]) if len(node.input) > 2 else None
        integer = zero_point is None or np.issubdtype(zero_point.dtype, np.integer)
        return 1.0 if integer and _no_float_output(node) else None
    if node.op_type in _KEEPS_STEP:
        return steps.get(node.input[0]) if node.input else None
    if node.op_type in _ALL_INPUTS_STEP:
        found = [steps.get(i) for i in node.input if i]
        return max(found) if found and None not in found else None
    return None


def _no_float_output(node: onnx.NodeProto) -> bool:
    """Whether a QuantizeLinear's `output_dtype` (21+) is absent or an integer type."""
    for attr in node.attribute:
        if attr.name == "output_dtype" and attr.i:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(attr.i)
            return np.issubdtype(dtype, np.integer)
    return True


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Small initializers and Constant outputs by name (scales and zero points)."""
    values = {
        t.name: t
        for t in graph.initializer
        if _elements(t) <= 1 << 16 and t.data_location != onnx.TensorProto.EXTERNAL
    }
    arrays = {name: numpy_helper.to_array(t) for name, t in values.items()}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value" and _elements(attr.t) <= 1 << 16:
                    arrays[node.output[0]] = numpy_helper.to_array(attr.t)
    return arrays


def _elements(tensor: onnx.TensorProto) -> int:
    return int(np.prod(tensor.dims)) if tensor.dims else 1
