"""The model summary table that `print(model)` shows."""

from __future__ import annotations

import math

import numpy as np

from axonnx.naming import op_label
from axonnx.node import Node
from axonnx.policy import Policy

__all__ = ["summary"]

_HEADER = ("Layer", "Shape", "Policy", "Parameters", "Parameters Memory")


def summary(model: Node) -> str:
    """The summary table of `model`: each layer with its op and inputs, output shape,
    policy, parameter count and memory; then totals and the inputs.

    >>> import axonnx as ax
    >>> print(ax.summary(ax.input("x", shape=(None, 3)).dense(2)).splitlines()[-3])
    Total Parameters: 8
    """
    from axonnx.compiler import plan

    laid_out = plan(model)
    rows, count, memory = [], 0, 0
    for node in laid_out.order:
        n_params, n_bytes = _param_totals(node)
        count, memory = count + n_params, memory + n_bytes
        rows.append(_row(laid_out, node, n_params, n_bytes))
    inputs = {laid_out.names[n.id]: _shape_text(n.shape) for n in laid_out.inputs}
    footer = [
        f"Total Parameters: {count}",
        f"Total Parameters Memory: {memory} bytes",
        "Inputs: {" + ", ".join(f'"{k}": {v}' for k, v in inputs.items()) + "}",
    ]
    return _table(rows, footer)


def _param_totals(node: Node) -> tuple[int, int]:
    count = memory = 0
    for spec in node.params:
        size = math.prod(spec.shape)
        dtype = node.policy.params if node.policy else spec.dtype
        count += size
        memory += size * _itemsize(dtype)
    return count, memory


def _itemsize(dtype: str) -> int:
    import jax.numpy as jnp

    return np.dtype(jnp.dtype(dtype)).itemsize


def _row(laid_out, node: Node, n_params: int, n_bytes: int) -> tuple[str, ...]:
    parents = ", ".join(f'"{laid_out.names[p.id]}"' for p in node.parents)
    label = op_label(node.op)
    layer = (
        f"{laid_out.names[node.id]} ( {label}[{parents}] )"
        if parents
        else (f"{laid_out.names[node.id]} ( {label} )")
    )
    policy = str(node.policy or Policy())
    return (layer, _shape_text(node.shape), policy, str(n_params), f"{n_bytes} bytes")


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, tuple) and all(d is None or isinstance(d, int) for d in shape):
        inner = ", ".join("None" if d is None else str(d) for d in shape)
        return f"({inner},)" if len(shape) == 1 else f"({inner})"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_shape_text(v)}" for k, v in shape.items()) + "}"
    return "(" + ", ".join(_shape_text(s) for s in shape) + ")"


def _table(rows: list[tuple[str, ...]], footer: list[str]) -> str:
    widths = [max(len(r[i]) for r in [_HEADER, *rows]) for i in range(len(_HEADER))]
    line = lambda cells: " " + "   ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    total = sum(widths) + 3 * (len(widths) - 1) + 2
    title = "Model".center(total).rstrip()
    body = [line(r) for r in rows]
    return "\n".join(
        ["-" * total, title, "=" * total, line(_HEADER), "=" * total, *body, "-" * total, *footer]
    )
