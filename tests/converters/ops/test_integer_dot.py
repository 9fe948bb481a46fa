"""integer_matmul: exact int32 products through float32 matmuls, at the worst-case
magnitudes of each regime, against NumPy's int64 product."""

import jax
import numpy as np
import pytest

from axonnx.converters.ops._integer_dot import integer_matmul


@pytest.mark.parametrize(
    "terms, bound",
    [
        (64, 255),  # one float32 matmul: 255² · 64 < 2^24
        (768, 255),  # 4-bit halves of x (BERT-base's hidden size)
        (4112, 255),  # the last K the halves keep exact
        (5000, 255),  # int32 dot
        (3000, 127),  # halves, int8 without zero point
    ],
)
def test_integer_matmul_is_exact_at_extreme_values(terms, bound):
    rng = np.random.default_rng(terms)
    # mostly ±bound, so that partial sums reach their largest magnitudes
    x = rng.choice([-bound, bound, bound - 1, -7], size=(3, terms)).astype(np.int32)
    y = rng.choice([-bound, bound], size=(terms, 5)).astype(np.int32)
    x[0], y[:, 0] = bound, bound  # one all-maximal dot product
    want = x.astype(np.int64) @ y.astype(np.int64)
    got = np.asarray(jax.jit(lambda a, b: integer_matmul(a, b, bound))(x, y))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)
