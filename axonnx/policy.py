"""Mixed-precision policies: the dtypes of a layer's parameters, computation and output."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Policy", "cast_floats", "policy"]

_SHORT = {"float32": "f32", "float16": "f16", "bfloat16": "bf16", "float64": "f64"}


class Policy(NamedTuple):
    """Dtypes for a layer: parameters are stored in `params`, math runs in `compute`,
    results leave in `output`."""

    params: str = "float32"
    compute: str = "float32"
    output: str = "float32"

    def __str__(self) -> str:
        short = [_SHORT.get(d, d) for d in self]
        return "p={} c={} o={}".format(*short)


def policy(
    params: str = "float32", compute: str | None = None, output: str | None = None
) -> Policy:
    """Make a `Policy`; `compute` and `output` default to `params`.

    >>> str(policy("float32", "bfloat16"))
    'p=f32 c=bf16 o=f32'
    """
    names = [np.dtype(jnp.dtype(d)).name for d in (params, compute or params, output or params)]
    return Policy(*names)


def cast_floats(tree: Any, dtype: Any) -> Any:
    """`tree` with every floating-point array cast to `dtype` (other leaves unchanged):
    the cast a policy applies to a layer's inputs, parameters and outputs.

    >>> cast_floats({"w": jnp.ones(2), "n": jnp.arange(2)}, "bfloat16")["w"].dtype
    dtype(bfloat16)
    """

    def cast(value):
        if hasattr(value, "dtype") and jnp.issubdtype(value.dtype, jnp.floating):
            return value.astype(dtype)
        return value

    return jax.tree_util.tree_map(cast, tree)
