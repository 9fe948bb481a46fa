"""Helpers shared by the control-flow and sequence ops: captured values, pytree
concreteness, abstract structure checks and loop-carried dtype matching."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from axonnx.errors import CompileTimeValueError, ShapeError

__all__ = [
    "abstract",
    "concrete_bool",
    "describe",
    "is_concrete",
    "match_carry",
    "same_layout",
    "split_captures",
]


def split_captures(inputs: Sequence[Any], capture_names: Sequence[str]) -> tuple[list, dict]:
    """`(formal inputs, env)`: the importer appends the outer values a subgraph reads
    as trailing inputs, named by `capture_names`."""
    count = len(capture_names)
    formal = list(inputs[: len(inputs) - count])
    env = dict(zip(capture_names, inputs[len(inputs) - count :], strict=True))
    return formal, env


def is_concrete(tree: Any) -> bool:
    """Whether no leaf of `tree` is a tracer (its values are known now)."""
    return not any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(tree))


def concrete_bool(value: Any, what: str) -> bool:
    """The Python truth of a one-element boolean tensor that must be known now."""
    if not is_concrete(value):
        raise CompileTimeValueError(
            f"{what} must be known when the model is compiled, but it depends on run-time "
            "data here. Feed it as a constant, or run the model without jax.jit."
        )
    array = np.asarray(value)
    if array.size != 1:
        raise ShapeError(f"{what}: expected a tensor of one element, got shape {array.shape}")
    return bool(array.reshape(()))


def abstract(tree: Any) -> Any:
    """`tree` with every array replaced by its `jax.ShapeDtypeStruct`."""
    return jax.tree_util.tree_map(lambda v: jax.ShapeDtypeStruct(np.shape(v), _dtype(v)), tree)


def _dtype(value: Any) -> np.dtype:
    return value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype


def describe(tree: Any) -> str:
    """A short text of a pytree of arrays: `(float32[2,3], (int64[4],))`, `None`."""
    if tree is None:
        return "None"
    if isinstance(tree, tuple | list):
        return "(" + ", ".join(describe(v) for v in tree) + ("," if len(tree) == 1 else "") + ")"
    return f"{np.dtype(_dtype(tree)).name}{list(np.shape(tree))}"


def same_layout(a: Any, b: Any) -> bool:
    """Whether two pytrees of arrays have the same structure, shapes and dtypes."""
    leaves_a, tree_a = jax.tree_util.tree_flatten(a)
    leaves_b, tree_b = jax.tree_util.tree_flatten(b)
    return tree_a == tree_b and all(
        np.shape(x) == np.shape(y) and np.dtype(_dtype(x)) == np.dtype(_dtype(y))
        for x, y in zip(leaves_a, leaves_b, strict=True)
    )


def match_carry(new: Any, old: Any, what: str) -> Any:
    """`new` with the dtypes of `old` (dropping weak types), as `lax` loops require;
    `ShapeError` when structure, shapes or dtypes differ."""
    if not same_layout(new, old):
        raise ShapeError(
            f"{what}: loop-carried values must keep their shapes and dtypes across "
            f"iterations, got {describe(old)} in and {describe(new)} out"
        )
    return jax.tree_util.tree_map(lambda n, o: jax.lax.convert_element_type(n, _dtype(o)), new, old)
