"""Standard forms of the QLinear contrib ops (`converters/ops/contrib_qlinear.py`) in QDQ
form: DequantizeLinear of the inputs, the float op, QuantizeLinear of the result.
onnxruntime's own kernels round in their own order, so results agree within one
quantization step of the output."""

from __future__ import annotations

from axonnx.converters.standard_forms._base import Call, standard_form
from axonnx.converters.standard_forms.quant import dequantized

__all__ = ["requantized"]


def requantized(c: Call, y: str, scale: str, zero_point: str | None) -> str:
    """QuantizeLinear of `y` per tensor (1-element scales and zero points as scalars)."""
    scale = c.op("Reshape", scale, c.ints([], "scalar_shape"))
    if zero_point is not None:
        zero_point = c.op("Reshape", zero_point, c.ints([], "scalar_shape"))
    return c.op("QuantizeLinear", y, scale, zero_point)


def _binary(
    c: Call, op_type: str, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point
):  # noqa: N803
    a, b = dequantized(c, A, A_scale, A_zero_point), dequantized(c, B, B_scale, B_zero_point)
    return requantized(c, c.op(op_type, a, b), C_scale, C_zero_point)


@standard_form("QLinearAdd")
def qlinear_add(
    c: Call, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None
):  # noqa: N803
    """DequantizeLinear, Add, QuantizeLinear."""
    return _binary(
        c, "Add", A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point
    )


@standard_form("QLinearMul")
def qlinear_mul(
    c: Call, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None
):  # noqa: N803
    """DequantizeLinear, Mul, QuantizeLinear."""
    return _binary(
        c, "Mul", A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point
    )


@standard_form("QLinearSigmoid")
def qlinear_sigmoid(c: Call, X, X_scale, X_zero_point=None, Y_scale=None, Y_zero_point=None):  # noqa: N803
    """DequantizeLinear, Sigmoid, QuantizeLinear."""
    y = c.op("Sigmoid", dequantized(c, X, X_scale, X_zero_point))
    return requantized(c, y, Y_scale, Y_zero_point)


@standard_form("QLinearLeakyRelu")
def qlinear_leaky_relu(
    c: Call, X, X_scale, X_zero_point=None, Y_scale=None, Y_zero_point=None, *, alpha=0.01
):  # noqa: N803
    """DequantizeLinear, LeakyRelu, QuantizeLinear."""
    y = c.op("LeakyRelu", dequantized(c, X, X_scale, X_zero_point), alpha=alpha)
    return requantized(c, y, Y_scale, Y_zero_point)


def _channels(c: Call, x: str, channels_last: int, to_first: bool) -> str:
    if not channels_last:
        return x
    rank = c.rank(0)
    perm = [0, rank - 1, *range(1, rank - 1)] if to_first else [0, *range(2, rank), 1]
    return c.op("Transpose", x, perm=perm)


@standard_form("QLinearGlobalAveragePool")
def qlinear_global_average_pool(
    c: Call, X, x_scale, x_zero_point, y_scale, y_zero_point, *, channels_last=0
):
    """DequantizeLinear, GlobalAveragePool (Transposes if channels last), QuantizeLinear."""
    real = _channels(c, dequantized(c, X, x_scale, x_zero_point), channels_last, True)
    pooled = _channels(c, c.op("GlobalAveragePool", real), channels_last, False)
    return requantized(c, pooled, y_scale, y_zero_point)


@standard_form("QLinearAveragePool")
def qlinear_average_pool(
    c: Call,
    X,
    x_scale,
    x_zero_point=None,
    y_scale=None,
    y_zero_point=None,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    channels_last=0,
    count_include_pad=0,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    """DequantizeLinear, AveragePool (Transposes if channels last), QuantizeLinear."""
    real = _channels(c, dequantized(c, X, x_scale, x_zero_point), channels_last, True)
    attributes = {
        "auto_pad": auto_pad,
        "ceil_mode": ceil_mode if c.opset >= 10 else None,
        "count_include_pad": count_include_pad,
        "kernel_shape": kernel_shape,
        "pads": pads,
        "strides": strides,
    }
    pooled = _channels(c, c.op("AveragePool", real, **attributes), channels_last, False)
    return requantized(c, pooled, y_scale, y_zero_point)


@standard_form("QLinearConcat")
def qlinear_concat(c: Call, Y_scale, Y_zero_point, *inputs, axis=None):  # noqa: N803
    """DequantizeLinear of each (tensor, scale, zero point), Concat, QuantizeLinear."""
    triples = zip(inputs[::3], inputs[1::3], inputs[2::3], strict=True)
    parts = [dequantized(c, x, scale, zero_point) for x, scale, zero_point in triples]
    return requantized(c, c.op("Concat", *parts, axis=axis), Y_scale, Y_zero_point)
