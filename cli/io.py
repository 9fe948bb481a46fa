"""Writing outputs for the CLI (atomic writes)."""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np

from axonnx.files import write_atomically

__all__ = ["write_outputs"]


def write_outputs(path: str | os.PathLike, outputs: Any) -> None:
    """Write outputs (a dict, tuple or array) to `.npz` atomically, keyed by output name."""
    if isinstance(outputs, dict):
        arrays = {str(k): np.asarray(v) for k, v in outputs.items()}
    else:
        leaves = jax.tree_util.tree_leaves(outputs)
        arrays = {f"output_{i}": np.asarray(v) for i, v in enumerate(leaves)}
    write_atomically(path, lambda temporary: np.savez(temporary, **arrays), suffix=".npz")
