"""Reading inputs and writing outputs for the CLI (no pickle, atomic writes)."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from axonnx.errors import InvalidModelError

__all__ = ["read_inputs", "write_outputs"]


def read_inputs(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Arrays from an `.npz` file, with pickled objects refused."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise InvalidModelError(f"{path}: not a readable .npz file of arrays ({error})") from error


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
