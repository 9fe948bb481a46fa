"""Mixed precision in training: compute policies and dynamic loss scaling.

float16 has a narrow range: small gradients underflow to zero. Loss scaling multiplies
the loss by a large factor before differentiation and divides the gradients by it
afterwards. *Dynamic* scaling starts high, halves the scale and skips the update
whenever a gradient overflows (Inf/NaN), and doubles it after `period` good steps.
bfloat16 has float32's range and needs no scaling.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from axonnx.graph import apply_policy
from axonnx.node import Node
from axonnx.plan import plan
from axonnx.policy import policy

__all__ = ["DynamicScale", "cast_outputs", "uses_float16", "with_compute_dtype"]


class DynamicScale(NamedTuple):
    """State of dynamic loss scaling (a pytree carried by the training step).

    Attributes:
        scale: float32 scalar the loss is multiplied by.
        good_steps: int32 scalar, finite steps since the scale last changed.
    """

    scale: jax.Array
    good_steps: jax.Array

    @classmethod
    def create(cls, initial: float = 2.0**15) -> DynamicScale:
        """A fresh state with scale `initial`."""
        return cls(jnp.asarray(initial, jnp.float32), jnp.asarray(0, jnp.int32))

    def scale_loss(self, loss: jax.Array) -> jax.Array:
        """`loss * scale`, in float32."""
        return loss.astype(jnp.float32) * self.scale

    def unscale(self, grads: Any) -> Any:
        """Gradients divided by the scale, in float32."""
        return jax.tree.map(lambda g: g.astype(jnp.float32) / self.scale, grads)

    def adjust(self, finite: jax.Array, *, period: int = 2000, factor: float = 2.0):
        """The next state: halve on overflow, grow by `factor` after `period` good steps."""
        grow = self.good_steps + 1 >= period
        scale = jnp.where(
            finite, jnp.where(grow, self.scale * factor, self.scale), self.scale / factor
        )
        good = jnp.where(finite & ~grow, self.good_steps + 1, 0)
        return DynamicScale(jnp.maximum(scale, 1.0).astype(jnp.float32), good.astype(jnp.int32))


def all_finite(tree: Any) -> jax.Array:
    """Whether every element of every leaf is finite (a boolean scalar)."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def with_compute_dtype(model: Node, dtype: str) -> Node:
    """`model` with every layer computing (and passing on) `dtype`, parameters in float32."""
    return apply_policy(model, policy("float32", dtype, dtype))


def uses_float16(model: Node) -> bool:
    """Whether any layer of `model` computes in float16 (then loss scaling is needed)."""
    return any(n.policy is not None and n.policy.compute == "float16" for n in plan(model).order)


def cast_outputs(tree: Any) -> Any:
    """Half-precision floating leaves cast to float32 (losses and metrics run in float32)."""

    def cast(v):
        if jnp.issubdtype(v.dtype, jnp.floating) and jnp.finfo(v.dtype).bits < 32:
            return v.astype(jnp.float32)
        return v

    return jax.tree.map(cast, tree)
