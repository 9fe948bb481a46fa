"""Small helpers shared by the op families."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from axonnx.errors import CompileTimeValueError, ShapeError

__all__ = ["int64", "normalize_axis", "static"]


def static(value: Any, what: str) -> np.ndarray:
    """`value` as a NumPy array; it must be known while tracing (a shape, axes, sizes).

    Raises `ShapeError` when `value` depends on run-time data under `jax.jit`.
    """
    if isinstance(value, jax.core.Tracer):
        raise CompileTimeValueError(
            f"{what} must be known when the model is compiled, but it depends on run-time "
            "data. Feed it as a constant/initializer, or run the model without jax.jit."
        )
    return np.asarray(value)


def int64() -> np.dtype:
    """int64 when JAX's 64-bit mode is on, else int32 (what JAX can hold)."""
    return jax.dtypes.canonicalize_dtype(np.int64)


def normalize_axis(axis: int, rank: int) -> int:
    """A non-negative axis; ONNX allows negative axes counted from the end."""
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"axis {axis} is out of range for rank {rank}")
    return axis % max(rank, 1)
