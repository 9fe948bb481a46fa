"""Standard forms of the activation and fused element-wise / linear contrib ops
(`converters/ops/contrib_activations.py`): Gelu-20 or its Erf / Tanh form, Add, MatMul,
Conv and the activation ops."""

from __future__ import annotations

import math

from axonnx.converters.standard_forms._base import Call, standard_form

__all__ = ["gelu_of"]


def gelu_of(c: Call, x: str, approximate: bool = False) -> str:
    """GELU of `x`: Gelu-20, else `0.5 x (1 + erf(x / sqrt 2))` or its tanh form."""
    if c.opset >= 20:
        return c.op("Gelu", x, approximate="tanh" if approximate else "none")
    if approximate:
        cube = c.op("Mul", c.op("Mul", x, x), x)
        inner = c.op("Add", x, c.op("Mul", cube, c.scalar(0.044715, "gelu_c")))
        core = c.op("Tanh", c.op("Mul", inner, c.scalar(math.sqrt(2 / math.pi), "gelu_k")))
    else:
        core = c.op("Erf", c.op("Mul", x, c.scalar(1 / math.sqrt(2), "inv_sqrt2")))
    half = c.op("Mul", x, c.scalar(0.5, "half"))
    return c.op("Mul", half, c.op("Add", core, c.scalar(1.0, "one")))


def _biased(c: Call, x: str, bias: str | None) -> str:
    return x if bias is None else c.op("Add", x, bias)


@standard_form("Gelu")
def gelu(c: Call, X):
    """Gelu-20 (or Erf form)."""
    return gelu_of(c, X)


@standard_form("BiasGelu")
def bias_gelu(c: Call, A, B):
    """Add, then Gelu-20 (or Erf form)."""
    return gelu_of(c, _biased(c, A, B))


@standard_form("FastGelu")
def fast_gelu(c: Call, X, bias=None):
    """(Add), then Gelu-20 with approximate="tanh" (or Tanh form)."""
    return gelu_of(c, _biased(c, X, bias), approximate=True)


@standard_form("QuickGelu")
def quick_gelu(c: Call, X, *, alpha=1.702):
    """`x * Sigmoid(alpha x)`."""
    return c.op("Mul", X, c.op("Sigmoid", c.op("Mul", X, c.scalar(alpha, "alpha"))))


@standard_form("BiasSplitGelu")
def bias_split_gelu(c: Call, X, bias):
    """Add, Split in halves, `left * Gelu(right)`."""
    left, right = c.halves(_biased(c, X, bias))
    return c.op("Mul", left, gelu_of(c, right))


@standard_form("BiasAdd")
def bias_add(c: Call, X, bias, skip):
    """Add + Add."""
    return c.op("Add", c.op("Add", X, bias), skip)


def _layout(c: Call, x: str, index: int, transposed: int, batch_transposed: int) -> str:
    if not transposed and not batch_transposed:
        return x
    rank = c.rank(index)
    order = list(range(rank))
    if batch_transposed and rank > 2:
        order = order[1:-1] + [0, order[-1]]
    if transposed and rank > 1:
        order[-1], order[-2] = order[-2], order[-1]
    return x if order == list(range(rank)) else c.op("Transpose", x, perm=order)


@standard_form("FusedMatMul")
def fused_matmul(c: Call, A, B, *, alpha=1.0, transA=0, transB=0, transBatchA=0, transBatchB=0):  # noqa: N803
    """Transposes, MatMul, Mul by alpha."""
    y = c.op("MatMul", _layout(c, A, 0, transA, transBatchA), _layout(c, B, 1, transB, transBatchB))
    return y if alpha == 1.0 else c.op("Mul", y, c.scalar(alpha, "alpha"))


def _activation(c: Call, y: str, name: str | None, params) -> str:
    params = [float(p) for p in (params or ())]

    def param(index: int, default: float) -> float:
        return params[index] if len(params) > index else default

    if name in (None, "", "Identity"):
        return y
    if name in ("Relu", "Tanh", "Sigmoid"):
        return c.op(name, y)
    if name == "LeakyRelu":
        return c.op("LeakyRelu", y, alpha=param(0, 0.01))
    if name == "HardSigmoid":
        return c.op("HardSigmoid", y, alpha=param(0, 0.2), beta=param(1, 0.5))
    if name == "Clip":
        low, high = c.scalar(param(0, -math.inf), "min"), c.scalar(param(1, math.inf), "max")
        return c.op("Clip", y, low, high)
    raise c.fail(f"activation {name!r} has no standard form")


@standard_form("FusedConv")
def fused_conv(
    c: Call,
    X,
    W,
    B=None,
    Z=None,
    *,
    activation=None,
    activation_params=None,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    """Conv (+ Add Z), then the activation op."""
    attributes = {
        "auto_pad": auto_pad,
        "dilations": dilations,
        "group": group,
        "kernel_shape": kernel_shape,
        "pads": pads,
        "strides": strides,
    }
    y = c.op("Conv", X, W, B, **attributes)
    return _activation(c, _biased(c, y, Z), activation, activation_params)


@standard_form("Trilu")
def trilu(c: Call, X, k=None, *, upper=1):
    """Trilu-14."""
    if c.opset < 14:
        raise c.fail(f"Trilu needs opset 14 or newer, the export opset is {c.opset}")
    return c.op("Trilu", X, k, upper=upper)
