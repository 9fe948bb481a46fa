"""Writing outputs for the CLI (atomic writes)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

__all__ = ["write_outputs"]


def write_outputs(path: str | os.PathLike, outputs: Any) -> None:
    """Write outputs (a dict, tuple or array) to `.npz` atomically, keyed by output name."""
    if isinstance(outputs, dict):
        arrays = {str(k): np.asarray(v) for k, v in outputs.items()}
    else:
        leaves = jax.tree_util.tree_leaves(outputs)
        arrays = {f"output_{i}": np.asarray(v) for i, v in enumerate(leaves)}
    target = Path(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".npz", dir=target.parent or "."
    )
    os.close(handle)
    try:
        np.savez(temporary, **arrays)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
