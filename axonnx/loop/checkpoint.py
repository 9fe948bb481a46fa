"""Checkpoints: a loop's whole position in one safetensors file, written atomically.

The file holds every array of the step's carry (parameters, model state, optimizer
state, counters) and of the metric accumulators as safetensors tensors keyed by their
pytree path; the loop counters, the data position, the metric history and the
handlers' state sit in a JSON header. Nothing is pickled; loading executes no code.
The pytree structure comes from the loop itself (a template), so a checkpoint is
loaded into the loop that wrote it, and every mismatch is named.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from safetensors import SafetensorError, safe_open

from axonnx.errors import InvalidModelError
from axonnx.serialization import TreeReader, TreeWriter, write_tensors_atomically

__all__ = ["read_checkpoint", "write_checkpoint"]

FORMAT = "axonnx-checkpoint/1"


def write_checkpoint(path: str | os.PathLike, trees: dict[str, Any], info: dict) -> None:
    """Write `trees` (name → pytree of arrays) and JSON-able `info` to `path` atomically."""
    writer = TreeWriter()
    layout = {name: _flatten(writer, tree) for name, tree in trees.items()}
    header = {"format": FORMAT, "trees": layout, "info": info}
    write_tensors_atomically(Path(path), writer.tensors, {"axonnx_checkpoint": json.dumps(header)})


def _flatten(writer: TreeWriter, tree: Any) -> dict[str, dict]:
    leaves = jax.tree_util.tree_flatten_with_path(jax.device_get(tree))[0]
    return {jax.tree_util.keystr(p): writer.tensor(np.asarray(v)) for p, v in leaves}


def read_checkpoint(
    path: str | os.PathLike, templates: dict[str, Any]
) -> tuple[dict[str, Any], dict]:
    """Read a checkpoint into pytrees shaped like `templates`; returns `(trees, info)`.

    Raises:
        InvalidModelError: the file is not a checkpoint, or an array is missing or has
            another shape or dtype than the loop expects (the message names it).
    """
    tensors, header = _read(Path(path))
    reader = TreeReader(tensors, allow_custom=False)
    trees = {
        name: _fill(path, name, header["trees"].get(name, {}), reader, template)
        for name, template in templates.items()
    }
    return trees, header["info"]


def _fill(path, name: str, layout: dict, reader: TreeReader, template: Any) -> Any:
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    values = []
    for key, expected in leaves:
        where = jax.tree_util.keystr(key)
        if where not in layout:
            raise InvalidModelError(
                f"{path}: checkpoint has no value for {name}{where}. Was it written by "
                "this loop (same model, optimizer and options)?"
            )
        value = reader.tensor(layout[where])
        if value.shape != np.shape(expected) or value.dtype != expected.dtype:
            raise InvalidModelError(
                f"{path}: {name}{where}: expected {np.shape(expected)} {expected.dtype}, "
                f"got {value.shape} {value.dtype}."
            )
        values.append(jnp.array(value))
    return jax.tree_util.tree_unflatten(treedef, values)


def _read(path: Path) -> tuple[dict, dict]:
    if not path.is_file():
        raise InvalidModelError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        header = json.loads(metadata["axonnx_checkpoint"])
    except (SafetensorError, OSError, ValueError, KeyError) as error:
        raise InvalidModelError(f"{path}: not an axonnx checkpoint ({error})") from error
    if header.get("format") != FORMAT:
        raise InvalidModelError(f"{path}: unsupported checkpoint format {header.get('format')!r}")
    return tensors, header
