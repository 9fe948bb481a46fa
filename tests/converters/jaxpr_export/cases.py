"""The table of primitive cases: each a function, run at two shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

RNG = np.random.default_rng(0)


def normal(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def unit(*shape):
    return RNG.uniform(-0.95, 0.95, shape).astype(np.float32)


def positive(*shape):
    return RNG.uniform(0.5, 2.0, shape).astype(np.float32)


def _tiny(n: int) -> np.ndarray:
    """Both signs from 1e-10 to 1e-2 (where 1 + x rounds), 0, -1, and exp's extremes;
    the cases divide by x, so that the error is relative."""
    x = 10.0 ** RNG.uniform(-10, -2, (2, n)) * RNG.choice([-1.0, 1.0], (2, n))
    x[0, :3] = [0.0, -1.0, 100.0]
    x[1, :3] = [-200.0, 0.5, -0.5]
    return x.astype(np.float32)


def ints(*shape, high=5):
    return RNG.integers(-high, high, shape).astype(np.int32)


def bools(*shape):
    return RNG.random(shape) > 0.5


def _pair(fn, make):
    """A case at two shapes: `make(n)` gives the arguments for size n."""
    return [(fn, make(3)), (fn, make(5))]


def _unary(fn, make=normal):
    return _pair(fn, lambda n: (make(2, n),))


def _binary(fn, make=normal):
    return _pair(fn, lambda n: (make(2, n), make(2, n)))


def _conv(x, k, **kw):
    return lax.conv_general_dilated(x, k, **kw)


def _pool_max(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def _pool_sum(x):
    return lax.reduce_window(
        x, 0.0, lax.add, (1, 3, 3, 1), (1, 1, 2, 1), ((0, 0), (1, 1), (0, 1), (0, 0))
    )


def _cond_sum(x):
    return lax.cond(x.sum() > 0, lambda a: jnp.sin(a).sum(), lambda a: (a * a).sum(), x)


@jax.custom_vjp
def _twice(x):
    return x * 2.0


_twice.defvjp(lambda x: (x * 2.0, None), lambda _, g: (g * 2.0,))


CASES = {
    # element-wise
    "add_sub_mul_div": _binary(lambda a, b: (a + b, a - b, a * b, a / b)),
    "max_min_pow": _binary(lambda a, b: (jnp.maximum(a, b), jnp.minimum(a, b), a**b), positive),
    "compare": _binary(lambda a, b: (a == b, a != b, a < b, a <= b, a > b, a >= b)),
    "logic": _binary(lambda a, b: (a & b, a | b, a ^ b, ~a), bools),
    "bitwise": _binary(lambda a, b: (a & b, a | b, a ^ b, ~a), ints),
    "rem": _binary(lambda a, b: lax.rem(a, b + 3.0), positive),
    "rem_int": _pair(lambda a, b: lax.rem(a, b), lambda n: (ints(2, n), ints(2, n, high=3) + 4)),
    "exp_log": _unary(
        lambda x: (jnp.exp(x), jnp.log(x), jnp.log1p(x), jnp.expm1(x), jnp.exp2(x)), positive
    ),
    "log1p_expm1_small": [
        (lambda x: (jnp.log1p(x) / x, jnp.expm1(x) / x), (_tiny(n),)) for n in (3, 8)
    ],
    "trig": _unary(
        lambda x: (jnp.sin(x), jnp.cos(x), jnp.tan(x), jnp.arcsin(x), jnp.arccos(x), jnp.arctan(x)),
        unit,
    ),
    "hyperbolic": _unary(
        lambda x: (jnp.sinh(x), jnp.cosh(x), jnp.tanh(x), jnp.arcsinh(x), jnp.arctanh(x)), unit
    ),
    "acosh": _unary(lambda x: jnp.arccosh(x + 1.0), positive),
    "roots": _unary(
        lambda x: (jnp.sqrt(x), lax.rsqrt(x), jnp.cbrt(x - 1.0), jnp.square(x)), positive
    ),
    "neg_abs_sign": _unary(lambda x: (-x, jnp.abs(x), jnp.sign(x))),
    "rounding": _unary(lambda x: (jnp.floor(x), jnp.ceil(x), jnp.round(x), lax.round(x))),
    "round_halves": _pair(
        lambda x: (jnp.round(x), lax.round(x)), lambda n: (np.arange(-n, n, 0.5, dtype=np.float32),)
    ),
    "erf_family": _unary(lambda x: (lax.erf(x), lax.erfc(x), lax.erf_inv(x)), unit),
    "logistic": _unary(jax.nn.sigmoid),
    "atan2": _binary(jnp.arctan2),
    "atan2_axes": _pair(
        lambda y, x: jnp.arctan2(y, x),
        lambda n: (
            np.array([0, 1, -1, 0, 2] * n, np.float32),
            np.array([0, 0, 0, -1, -2] * n, np.float32),
        ),
    ),
    "is_finite": _pair(
        jnp.isfinite, lambda n: (np.array([1.0, np.inf, -np.inf, np.nan] * n, np.float32),)
    ),
    "integer_pow": _unary(lambda x: (x**2, x**3, x**7, x**-2), positive),
    "convert": _unary(lambda x: (x.astype(jnp.int32), x.astype(jnp.bool_), x.astype(jnp.float16))),
    "reduce_precision": _unary(
        lambda x: (
            lax.reduce_precision(x, 8, 7),
            lax.reduce_precision(x, 5, 10),
            lax.reduce_precision(x, 8, 23),
        )
    ),
    "select_n": _pair(
        lambda p, a, b: (
            jnp.where(p, a, b),
            lax.select_n(jnp.int32(1) + p.astype(jnp.int32), a, b, a * 2),
        ),
        lambda n: (bools(2, n), normal(2, n), normal(2, n)),
    ),
    "clamp": _unary(lambda x: lax.clamp(-0.5, x, 0.5)),
    "stop_gradient_copy": _unary(
        lambda x: (lax.stop_gradient(x), jnp.array(x, copy=True), lax.optimization_barrier(x))
    ),
    # shapes
    "reshape_transpose": _pair(
        lambda x: (x.reshape(-1), x.T, x[:, None]), lambda n: (normal(2, n, 3),)
    ),
    "broadcast_squeeze": _pair(
        lambda x: (jnp.broadcast_to(x, (4, *x.shape)), x[None].squeeze(0), jnp.expand_dims(x, 1)),
        lambda n: (normal(n, 1),),
    ),
    "concat_split": _pair(
        lambda x: (jnp.concatenate([x, x * 2], 1), *jnp.split(x, [1], axis=1)),
        lambda n: (normal(2, n),),
    ),
    "slice": _pair(
        lambda x: (x[1:, ::2], lax.slice(x, (0, 1), (2, 3), (1, 2))), lambda n: (normal(3, n),)
    ),
    "pad": _pair(
        lambda x: (jnp.pad(x, ((1, 2), (0, 3))), lax.pad(x, 1.5, ((1, -1, 1), (-1, 2, 2)))),
        lambda n: (normal(3, n),),
    ),
    "rev": _pair(lambda x: (jnp.flip(x, 0), lax.rev(x, (0, 1))), lambda n: (normal(3, n),)),
    "iota": _pair(
        lambda x: x + lax.broadcasted_iota(jnp.float32, x.shape, 1), lambda n: (normal(3, n),)
    ),
    # contractions, reductions, cumulative
    "dot_general": _pair(
        lambda a, b: (a @ b, lax.dot_general(a, b, (((1,), (0,)), ((), ())))),
        lambda n: (normal(3, n), normal(n, 4)),
    ),
    "dot_general_batch": _pair(
        lambda a, b: lax.dot_general(a, b, (((2,), (1,)), ((0,), (2,)))),
        lambda n: (normal(2, 3, n), normal(4, n, 2)),
    ),
    "dot_general_mixed": _pair(
        lambda a, b: lax.dot_general(
            a, b, (((1,), (0,)), ((), ())), preferred_element_type=jnp.float32
        ),
        lambda n: (ints(3, n), ints(n, 2)),
    ),
    "reduce": _pair(
        lambda x: (x.sum(1), x.max(0), x.min((0, 1)), x.prod(1)), lambda n: (normal(3, n),)
    ),
    "reduce_logic": _pair(
        lambda p: (p.all(1), p.any(0), lax.reduce_xor_p.bind(p, axes=(1,))),
        lambda n: (bools(3, n),),
    ),
    "argmax": _pair(lambda x: (jnp.argmax(x, 1), jnp.argmin(x, 0)), lambda n: (normal(3, n),)),
    "cumulative": _pair(
        lambda x: (
            jnp.cumsum(x, 1),
            jnp.cumprod(x, 1),
            lax.cummax(x, 1),
            lax.cummin(x, 0),
            lax.cumsum(x, 1, reverse=True),
        ),
        lambda n: (normal(3, n),),
    ),
    "cummax_reverse_int": _pair(
        lambda x: (lax.cummax(x, 1, reverse=True), lax.cumprod(x, 0)), lambda n: (ints(3, n),)
    ),
    "cumlogsumexp": _pair(lambda x: lax.cumlogsumexp(x, 1), lambda n: (normal(3, n),)),
    # indexing
    "gather_take": _pair(
        lambda x, i: (x[i], jnp.take(x, i, axis=1), x[i, 1:3]),
        lambda n: (normal(n, 6), np.array([0, n - 1, 1], np.int32)),
    ),
    "gather_fill": _pair(
        lambda x, i: (
            x.at[i].get(mode="fill", fill_value=-1.0),
            jnp.take(x, i, axis=1, mode="clip"),
        ),
        lambda n: (normal(n, 6), np.array([0, n + 2, -7], np.int32)),
    ),
    "gather_points": _pair(
        lambda x, i, j: x[i, j],
        lambda n: (normal(n, 4), np.array([0, n - 1], np.int32), np.array([3, 1], np.int32)),
    ),
    "gather_batched": _pair(
        lambda x, i: jnp.take_along_axis(x, i, axis=1),
        lambda n: (normal(3, n), RNG.integers(0, n, (3, 2)).astype(np.int32)),
    ),
    "scatter": _pair(
        lambda x, i, u: (
            x.at[i].set(u),
            x.at[i].add(u),
            x.at[i].multiply(u),
            x.at[i].min(u),
            x.at[i].max(u),
        ),
        lambda n: (normal(n, 4), np.array([n - 1, 0], np.int32), normal(2, 4)),
    ),
    "scatter_drop": _pair(
        lambda x, i, u: (x.at[i].set(u), x.at[i].add(u, mode="clip")),
        lambda n: (normal(n, 4), np.array([n + 3, 0], np.int32), normal(2, 4)),
    ),
    "scatter_points": _pair(
        lambda x, i, j, u: x.at[i, j].add(u),
        lambda n: (
            normal(n, 4),
            np.array([0, n - 1, 0], np.int32),
            np.array([1, 3, 1], np.int32),
            normal(3),
        ),
    ),
    "scatter_batched": _pair(
        lambda x, i, u: jnp.put_along_axis(x, i, u, axis=1, inplace=False),
        lambda n: (normal(3, n), np.tile(np.arange(2, dtype=np.int32), (3, 1)), normal(3, 2)),
    ),
    "dynamic_slice": _pair(
        lambda x, i: (
            lax.dynamic_slice(x, (i, 1), (2, 2)),
            lax.dynamic_slice_in_dim(x, i + 9, 2, 0),
        ),
        lambda n: (normal(n, 4), np.int32(1)),
    ),
    "dynamic_update_slice": _pair(
        lambda x, u, i: (
            lax.dynamic_update_slice(x, u, (i, 0)),
            lax.dynamic_update_slice(x, u, (i + 9, 1)),
        ),
        lambda n: (normal(n, 4), normal(2, 3), np.int32(1)),
    ),
    # convolution
    "conv_nchw": _pair(
        lambda x, k: _conv(
            x, k, window_strides=(2, 1), padding=((1, 1), (0, 2)), rhs_dilation=(1, 2)
        ),
        lambda n: (normal(2, 3, n + 4, 6), normal(4, 3, 3, 2)),
    ),
    "conv_nhwc_groups": _pair(
        lambda x, k: _conv(
            x,
            k,
            window_strides=(1, 1),
            padding="SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=2,
        ),
        lambda n: (normal(2, n + 3, 5, 4), normal(3, 3, 2, 6)),
    ),
    "conv_lhs_dilation": _pair(
        lambda x, k: _conv(
            x, k, window_strides=(1, 1), padding=((2, 1), (-1, 1)), lhs_dilation=(2, 3)
        ),
        lambda n: (normal(1, 2, n, 4), normal(3, 2, 3, 3)),
    ),
    "conv_batch_groups": _pair(
        lambda x, k: _conv(x, k, window_strides=(1, 1), padding="VALID", batch_group_count=2),
        lambda n: (normal(4, 3, n + 2, 5), normal(6, 3, 2, 2)),
    ),
    "conv_1d": _pair(
        lambda x, k: _conv(x, k, window_strides=(2,), padding="SAME"),
        lambda n: (normal(2, 3, n + 5), normal(2, 3, 3)),
    ),
    # windows
    "reduce_window_max": _pair(
        lambda x: (
            _pool_max(x),
            lax.reduce_window(
                x, jnp.inf, lax.min, (1, 1, 3, 1), (1, 1, 1, 1), ((0, 0), (0, 0), (1, 1), (0, 0))
            ),
        ),
        lambda n: (normal(2, 3, n + 1, 6),),
    ),
    "reduce_window_sum": _pair(_pool_sum, lambda n: (normal(2, n + 2, 5, 3),)),
    "reduce_window_dilated": _pair(
        lambda x: lax.reduce_window(
            x,
            0.0,
            lax.add,
            (2, 2),
            (1, 1),
            ((0, -1), (1, 0)),
            base_dilation=(2, 1),
            window_dilation=(1, 2),
        ),
        lambda n: (normal(n, 6),),
    ),
    "select_and_scatter_add": _pair(
        jax.grad(lambda x: (_pool_max(x) ** 2).sum()), lambda n: (normal(2, 3, n + 1, 6),)
    ),
    "select_and_gather_add": _pair(
        lambda x, v: jax.jvp(_pool_max, (x,), (v,))[1],
        lambda n: (normal(2, 3, n + 1, 6), normal(2, 3, n + 1, 6)),
    ),
    # sorting
    "sort": _pair(
        lambda x, y: (jnp.sort(x, axis=1), jnp.argsort(x, axis=0), lax.sort((x, y), num_keys=1)),
        lambda n: (normal(3, n), normal(3, n)),
    ),
    "top_k": _pair(lambda x: lax.top_k(x, 2), lambda n: (normal(3, n),)),
    "approx_top_k": _pair(
        lambda x: (lax.approx_max_k(x, 2), lax.approx_min_k(x, 2)), lambda n: (normal(3, n),)
    ),
    # control flow
    "cond": _pair(
        lambda x: lax.cond(x.sum() > 0, lambda a: (a * 2, a.sum()), lambda a: (-a, a.max()), x),
        lambda n: (normal(2, n),),
    ),
    "switch": _pair(
        lambda i, x: lax.switch(i, [jnp.sin, jnp.cos, lambda a: a * 3.0], x),
        lambda n: (np.int32(n % 3), normal(2, n)),
    ),
    "while": _pair(
        lambda x: lax.while_loop(
            lambda c: c[1] < 10.0, lambda c: (c[0] * 1.5, c[1] + c[0].sum() ** 2 + 1.0), (x, 0.0)
        ),
        lambda n: (normal(2, n),),
    ),
    "fori_loop": _pair(
        lambda x, k: lax.fori_loop(0, k, lambda i, c: c + i * c, x),
        lambda n: (normal(n), np.int32(n)),
    ),
    "scan": _pair(
        lambda x, c: lax.scan(lambda h, a: (jnp.tanh(h + a), h * a), c, x),
        lambda n: (normal(n, 3), normal(3)),
    ),
    "scan_reverse": _pair(
        lambda x, c: lax.scan(lambda h, a: (h + a, h), c, x, reverse=True),
        lambda n: (normal(n, 2), normal(2)),
    ),
    "custom_jvp_jit": _pair(
        jax.jit(lambda x: jax.nn.relu(x) + jax.nn.softplus(x)), lambda n: (normal(2, n),)
    ),
    "add_any": _unary(jax.grad(lambda x: (jnp.sin(x) * x).sum())),
    "device_put": _unary(lambda x: jax.device_put(x) * 2.0),
    "custom_vjp": _unary(_twice),
    "reduce_window_generic": _pair(
        lambda x: lax.reduce_window(x, 0.0, lambda a, b: a + b, (2,), (1,), "VALID"),
        lambda n: (normal(n + 1),),
    ),
    "scatter_sub": _pair(
        lambda x, i, u: lax.scatter_sub(x, i, u, lax.ScatterDimensionNumbers((1,), (0,), (0,))),
        lambda n: (normal(n, 4), np.array([[1], [n - 1]], np.int32), normal(2, 4)),
    ),
    "empty": _pair(
        lambda x: (lax.empty((2, 3), jnp.float32) * 0.0 + x.sum(), jax.grad(_cond_sum)(x)),
        lambda n: (normal(n),),
    ),
    "shifts": _pair(
        lambda x, y: (
            lax.shift_left(x, y),
            lax.shift_right_logical(x, y),
            lax.shift_right_arithmetic(x, y),
        ),
        lambda n: (ints(2, n, high=1000), RNG.integers(0, 8, (2, n)).astype(np.int32)),
    ),
    "reduce_generic": _pair(
        lambda x, y: lax.reduce((x, y), (0.0, 1.0), lambda a, b: (a[0] + b[0], a[1] * b[1]), (0,)),
        lambda n: (normal(3, n), positive(3, n)),
    ),
    "linear_solve": _pair(
        lambda b: lax.custom_linear_solve(lambda x: 2.0 * x, b, lambda f, y: y / 2.0),
        lambda n: (normal(n),),
    ),
    "sharding_constraint": _unary(
        lambda x: (
            lax.with_sharding_constraint(x, jax.sharding.SingleDeviceSharding(jax.devices()[0]))
            + 1.0
        )
    ),
    "stack": _pair(
        lambda a, b: (jnp.stack([a, b], 1), jnp.stack([a.sum()])),
        lambda n: (normal(2, n), normal(2, n)),
    ),
    "gather_one_window": _pair(
        lambda x, i: (x[i], x.at[i + 10].get(mode="fill", fill_value=0.0), x[:, i], (x > 0)[i]),
        lambda n: (normal(n, 4), np.int32(n - 2)),
    ),
    "checkpoint": _pair(jax.checkpoint(lambda x: jnp.sin(x) * x), lambda n: (normal(2, n),)),
}
