"""ONNX ops: linear algebra (MatMul, Gemm, Einsum, Det), losses and training optimizers."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from axonnx.converters.ops._integer_dot import integer_matmul
from axonnx.converters.registry import onnx_op
from axonnx.errors import InvalidModelError, ShapeError, UnsupportedOpError

TRAINING = "ai.onnx.preview.training"


@onnx_op("MatMul", 1, 9, 13, weight_inputs=(1,))
def matmul(A, B):
    """ONNX MatMul-1,9,13: NumPy `matmul` (1-D operands promoted, batch broadcast)."""
    return jnp.matmul(A, B)


def _scaled(x, factor: float):
    """`factor * x` in `x`'s dtype (integer Gemm keeps integers)."""
    x = jnp.asarray(x)
    if factor == 1.0:
        return x
    return (x * factor).astype(x.dtype)


@onnx_op("Gemm", 7, 9, 11, 13, weight_inputs=(1, 2))
def gemm(A, B, C=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):  # noqa: N803
    """ONNX Gemm-7..13: `alpha * A' @ B' + beta * C` with A' = A.T if transA, etc.;
    A' is (M, K), B' is (K, N), C broadcasts to (M, N) and is optional from v11."""
    A = jnp.asarray(A).T if transA else jnp.asarray(A)
    B = jnp.asarray(B).T if transB else jnp.asarray(B)
    if A.ndim != 2 or B.ndim != 2:
        raise ShapeError(f"Gemm: expected 2-D A and B, got shapes {A.shape} and {B.shape}")
    Y = _scaled(jnp.matmul(A, B), alpha)
    return Y if C is None else Y + _scaled(C, beta)


@onnx_op("Einsum", 12, 28)
def einsum(*Inputs, equation=None):
    """ONNX Einsum-12,28: Einstein summation over the inputs (NumPy equation syntax)."""
    if equation is None:
        raise InvalidModelError("Einsum: expected the attribute equation, got none")
    return jnp.einsum(equation.replace(" ", ""), *Inputs)


@onnx_op("Det", 11, 22)
def det(X):
    """ONNX Det-11,22: determinants of the trailing (M, M) matrices: (*, M, M) -> (*)."""
    X = jnp.asarray(X)
    if X.dtype in (jnp.float16, jnp.bfloat16):  # LU runs in float32 at least
        return jnp.linalg.det(X.astype(jnp.float32)).astype(X.dtype)
    return jnp.linalg.det(X)


def _minus_zero_point(x, zero_point, per_row: bool):
    """`x - zero_point` in int32; a 1-D zero point of A is per row (M), of B per column."""
    x = jnp.asarray(x).astype(jnp.int32)
    if zero_point is None:
        return x
    zero_point = jnp.asarray(zero_point).astype(jnp.int32)
    if per_row and zero_point.ndim == 1 and x.ndim >= 2:
        zero_point = zero_point[:, None]
    return x - zero_point


@onnx_op("MatMulInteger", 10)
def matmul_integer(A, B, a_zero_point=None, b_zero_point=None):
    """ONNX MatMulInteger-10: int32 `(A - a_zero_point) @ (B - b_zero_point)` for 8-bit A, B."""
    return integer_matmul(
        _minus_zero_point(A, a_zero_point, True), _minus_zero_point(B, b_zero_point, False)
    )


# ---------------------------------------------------------------------------------------
# Losses


def _nll(log_prob, target, weight, ignore_index, reduction: str, op: str):
    """Negative log-likelihood of `target` (N, d1..dk) under `log_prob` (N, C, d1..dk)."""
    if reduction not in ("none", "sum", "mean"):
        raise UnsupportedOpError(
            f"{op}: expected reduction 'none', 'sum' or 'mean', got {reduction!r}"
        )
    log_prob, target = jnp.asarray(log_prob), jnp.asarray(target)
    if log_prob.ndim < 2 or target.shape != log_prob.shape[:1] + log_prob.shape[2:]:
        raise ShapeError(
            f"{op}: expected input (N, C, d1..dk) and target (N, d1..dk), got "
            f"shapes {log_prob.shape} and {target.shape}"
        )
    keep = jnp.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    classes = jnp.clip(target, 0, log_prob.shape[1] - 1)
    picked = jnp.take_along_axis(log_prob, classes[:, None], axis=1)[:, 0]
    w = jnp.ones((), log_prob.dtype) if weight is None else jnp.asarray(weight)[classes]
    w = jnp.where(keep, w, jnp.zeros((), log_prob.dtype)).astype(log_prob.dtype)
    loss = -picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return jnp.sum(loss)
    return (jnp.sum(loss) / jnp.sum(w)).astype(log_prob.dtype)


@onnx_op("NegativeLogLikelihoodLoss", 12, 13, 22)
def negative_log_likelihood_loss(
    input,
    target,
    weight=None,
    *,  # noqa: A002 (ONNX name)
    ignore_index=None,
    reduction="mean",
):
    """ONNX NegativeLogLikelihoodLoss-12,13,22: `-input[n, target[n, d], d] * weight[c]`,
    zero where target == ignore_index, reduced by `reduction` (mean is weight-averaged)."""
    return _nll(input, target, weight, ignore_index, reduction, "NegativeLogLikelihoodLoss")


@onnx_op("SoftmaxCrossEntropyLoss", 12, 13)
def softmax_cross_entropy_loss(
    scores, labels, weights=None, *, ignore_index=None, reduction="mean"
):
    """ONNX SoftmaxCrossEntropyLoss-12,13: NLL of `labels` under log_softmax(scores, axis=1);
    returns (loss, log_prob)."""
    log_prob = jax.nn.log_softmax(jnp.asarray(scores), axis=1)
    loss = _nll(log_prob, labels, weights, ignore_index, reduction, "SoftmaxCrossEntropyLoss")
    return loss, log_prob


# ---------------------------------------------------------------------------------------
# Training optimizers (domain ai.onnx.preview.training): inputs R (learning rate),
# T (update count), then n tensors per group (X..., G..., state...); outputs the updated
# X... followed by the updated states.


def _groups(inputs: tuple, count: int, op: str) -> list[tuple]:
    """Split the variadic inputs into `count` equal groups, zipped per tensor."""
    if not inputs or len(inputs) % count:
        raise InvalidModelError(
            f"{op}: expected {count} groups of tensors after R and T, got {len(inputs)} inputs"
        )
    n = len(inputs) // count
    return list(zip(*(inputs[i * n : (i + 1) * n] for i in range(count)), strict=True))


def _regularized(norm_coefficient: float, x, g):
    return norm_coefficient * x + g


def _unzip_outputs(updates: list[tuple]) -> tuple:
    return tuple(item for column in zip(*updates, strict=True) for item in column)


@onnx_op("Adagrad", 1, domain=TRAINING)
def adagrad(R, T, *inputs, decay_factor=0.0, epsilon=1e-6, norm_coefficient=0.0):
    """ONNX Adagrad-1 (preview.training): inputs R, T, X..., G..., H...;
    outputs X_new..., H_new...."""
    rate = R / (1 + T * decay_factor)
    updates = []
    for x, g, h in _groups(inputs, 3, "Adagrad"):
        g = _regularized(norm_coefficient, x, g)
        h_new = h + g * g
        x_new = x - rate * g / (jnp.sqrt(h_new) + epsilon)
        updates.append((x_new.astype(x.dtype), h_new.astype(h.dtype)))
    return _unzip_outputs(updates)


@onnx_op("Adam", 1, domain=TRAINING)
def adam(
    R,
    T,
    *inputs,
    alpha=0.9,
    beta=0.999,
    epsilon=1e-6,
    norm_coefficient=0.0,
    norm_coefficient_post=0.0,
):
    """ONNX Adam-1 (preview.training): inputs R, T, X..., G..., V..., H...;
    outputs X_new..., V_new..., H_new... (bias-corrected rate when T > 0)."""
    corrected = R * jnp.sqrt(1 - beta**T) / (1 - alpha**T)
    rate = jnp.where(T > 0, corrected, R)
    updates = []
    for x, g, v, h in _groups(inputs, 4, "Adam"):
        g = _regularized(norm_coefficient, x, g)
        v_new = alpha * v + (1 - alpha) * g
        h_new = beta * h + (1 - beta) * g * g
        x_new = (1 - norm_coefficient_post) * (x - rate * v_new / (jnp.sqrt(h_new) + epsilon))
        updates.append((x_new.astype(x.dtype), v_new.astype(v.dtype), h_new.astype(h.dtype)))
    return _unzip_outputs(updates)


@onnx_op("Momentum", 1, domain=TRAINING)
def momentum(R, T, *inputs, alpha=None, beta=None, mode=None, norm_coefficient=None):
    """ONNX Momentum-1 (preview.training): inputs R, T, X..., G..., V...; outputs
    X_new..., V_new...; mode "standard" or "nesterov" (gradient weight 1 while T == 0)."""
    if None in (alpha, beta, mode, norm_coefficient):
        raise InvalidModelError(
            "Momentum: expected attributes alpha, beta, mode and norm_coefficient"
        )
    if mode not in ("standard", "nesterov"):
        raise UnsupportedOpError(f"Momentum: expected mode 'standard' or 'nesterov', got {mode!r}")
    beta_t = jnp.where(T > 0, beta, 1.0)
    updates = []
    for x, g, v in _groups(inputs, 3, "Momentum"):
        g = _regularized(norm_coefficient, x, g)
        v_new = alpha * v + beta_t * g
        step = v_new if mode == "standard" else g + alpha * v_new
        updates.append(((x - R * step).astype(x.dtype), v_new.astype(v.dtype)))
    return _unzip_outputs(updates)
