"""The model summary that `print(model)` shows, as a table or as data.

Layers are grouped by name scope (`ax.namespace`, the scopes of an exporter's node
names such as `encoder.layer.0.attention.self`) into a tree shown to a depth;
identical repeated blocks collapse into one row (`encoder.layer.{0..11}  ×12`);
values computed only from shapes and constants are folded into the row of the layer
that uses them; run-time dimensions show their names (`f32[batch,sequence,768]`).
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from typing import Any

from axonnx.node import Node
from axonnx.summary_scopes import Entry
from axonnx.summary_tree import Tree, build_tree

__all__ = ["summary", "summary_data"]

_NOT_A_TERMINAL = (120, 80)  # at most this wide and (for the default depth) tall
_GAP = "  "
_SHORT = {
    "float32": "f32",
    "float16": "f16",
    "bfloat16": "bf16",
    "float64": "f64",
    "int64": "i64",
    "int32": "i32",
    "int16": "i16",
    "int8": "i8",
    "uint8": "u8",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "bool": "bool",
    "complex64": "c64",
    "complex128": "c128",
    "object": "str",
}


def summary(model: Node, *, depth: int | None = None, width: int | None = None) -> str:
    """The summary table of `model`.

    Each row is a scope or a layer: its op (for a scope, how many graph nodes it
    holds; for identical repeated blocks, `×N`), output dtype and shape, trainable
    parameters, non-trainable values (state, frozen parameters, constants) and bytes;
    a policy column appears when a layer has a mixed-precision policy. Then totals,
    inputs and outputs.

    Args:
        model: the model.
        depth: scope levels to expand; by default the deepest that fits the terminal's
            height (80 lines when not writing to a terminal).
        width: the most columns a line may take; by default the terminal's width, at
            most 120 when not writing to a terminal. Long names are shortened in the
            middle (`enc…self`).

    >>> import axonnx as ax
    >>> print(ax.summary(ax.input("x", shape=(None, 3)).dense(2)).splitlines()[-6])
    Total Parameters: 8 (trainable: 8, 32 bytes; non-trainable: 0, 0 bytes)
    """
    tree = build_tree(model)
    width = width or _terminal_size()[0]
    return "\n".join(_render(tree, _depth(tree, depth, width), width))


def summary_data(model: Node, *, depth: int | None = None) -> dict[str, Any]:
    """The summary of `model` as JSON-ready data: the same tree (`rows`, expanded to
    `depth`, by default the depth `summary` would choose), totals, inputs, outputs."""
    tree = build_tree(model)
    depth = _depth(tree, depth, _terminal_size()[0])
    totals = _totals(tree)
    return {
        "depth": depth,
        "max_depth": tree.root.height(),
        "rows": [_entry_data(e, 1, depth) for e in tree.root.children],
        "totals": {k: {"count": c, "bytes": b} for k, (c, b) in totals.items()},
        "inputs": [_value_data(*v) for v in tree.inputs],
        "outputs": [_value_data(*v) for v in tree.outputs],
        "onnx_initializers": tree.file_initializers,
    }


def _depth(tree: Tree, depth: int | None, width: int) -> int:
    """`depth`, or the deepest whose table fits the terminal's height."""
    if depth is not None:
        return max(depth, 1)
    tallest = _terminal_size()[1]
    for level in range(max(tree.root.height(), 1), 1, -1):
        if len(_render(tree, level, width)) <= tallest:
            return level
    return 1


def _terminal_size() -> tuple[int, int]:
    """(columns, lines): the terminal's, or at most 120 × 80 when not a terminal."""
    columns, lines = shutil.get_terminal_size(_NOT_A_TERMINAL)
    if not _is_terminal():
        columns = min(columns, _NOT_A_TERMINAL[0])
        lines = int(os.environ["LINES"]) if os.environ.get("LINES", "").isdigit() else 80
    return max(columns, 20), max(lines, 10)


def _is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------- data


def _entry_data(entry: Entry, level: int, depth: int) -> dict[str, Any]:
    data = {
        "name": entry.name,
        "kind": entry.kind,
        "op": entry.op or None,
        "repeat": entry.repeat,
        "shape": _json_shape(entry.shape),
        "dtype": entry.dtype,
        "params": entry.params,
        "non_trainable": entry.fixed,
        "constants": entry.constants,
        "bytes": entry.bytes,
        "nodes": entry.nodes,
    }
    if entry.policy:
        data["policy"] = entry.policy
    if entry.inputs:
        data["inputs"] = list(entry.inputs)
    if entry.kind == "scope" and level < depth:
        data["children"] = [_entry_data(c, level + 1, depth) for c in entry.children]
    return data


def _json_shape(shape: Any) -> Any:
    if isinstance(shape, tuple | list):
        return [_json_shape(d) for d in shape]
    if isinstance(shape, dict):
        return {str(k): _json_shape(v) for k, v in shape.items()}
    return shape


def _value_data(name: str, shape: Any, dtype: Any) -> dict[str, Any]:
    return {"name": name, "shape": _json_shape(shape), "dtype": dtype}


def _totals(tree: Tree) -> dict[str, tuple[int, int]]:
    rows = tree.root.children
    trainable = (sum(e.params for e in rows), sum(e.params_bytes for e in rows))
    fixed = (sum(e.fixed for e in rows), sum(e.fixed_bytes for e in rows))
    constants = (sum(e.constants for e in rows), sum(e.constants_bytes for e in rows))
    total = tuple(sum(t) for t in zip(trainable, fixed, constants))
    return {"trainable": trainable, "non_trainable": fixed, "constants": constants, "total": total}


# ---------------------------------------------------------------- text


def _value_text(shape: Any, dtype: Any) -> str:
    """`f32[batch,sequence,768]`; `?` for what is unknown; nests for several outputs."""
    if isinstance(shape, dict):
        dtypes = dtype if isinstance(dtype, dict) else {}
        inner = ", ".join(f"{k}: {_value_text(v, dtypes.get(k))}" for k, v in shape.items())
        return "{" + inner + "}"
    if isinstance(shape, list) or (
        isinstance(shape, tuple) and shape and not all(_is_dim(d) for d in shape)
    ):
        dtypes = list(dtype) if isinstance(dtype, list | tuple) else [None] * len(shape)
        return "(" + ", ".join(_value_text(s, d) for s, d in zip(shape, dtypes)) + ")"
    kind = _SHORT.get(dtype, dtype) if isinstance(dtype, str) else "?"
    if shape is None:
        return f"{kind}[…]" if isinstance(dtype, str) else "?"
    return kind + "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _is_dim(d: Any) -> bool:
    return d is None or isinstance(d, int | str)


def _bytes_text(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 999.5 or unit == "TiB":
            return f"{value:.3g} {unit}"
    raise AssertionError("unreachable")


def _count_text(count: int, compact: bool) -> str:
    if not compact or count < 10_000:
        return f"{count:,}"
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "K")):
        if count >= size:
            return f"{count / size:.1f}{suffix}"
    return str(count)


def _op_text(entry: Entry) -> str:
    if entry.repeat > 1:
        return f"×{entry.repeat}"
    if entry.kind == "scope":
        return f"{entry.nodes} nodes"
    if entry.inputs:
        return f"{entry.op}({', '.join(entry.inputs)})"
    return entry.op


def _visible(tree: Tree, depth: int) -> list[tuple[int, Entry]]:
    rows, stack = [], [(0, e) for e in reversed(tree.root.children)]
    while stack:
        level, entry = stack.pop()
        rows.append((level, entry))
        if entry.kind == "scope" and level + 1 < depth:
            stack.extend((level + 1, c) for c in reversed(entry.children))
    return rows


_HEADERS = ("Layer", "Op", "Output", "Params", "Non-train", "Bytes", "Policy")
_RIGHT = {3, 4, 5}
# (column, narrowest) in the order columns give up width when a table is too wide;
# a policy is never cut
_SHRINK = ((0, 24), (1, 12), (2, 24), (0, 16), (1, 8), (2, 16), (0, 10), (1, 4), (2, 8))


def _render(tree: Tree, depth: int, width: int) -> list[str]:
    visible = _visible(tree, depth)
    columns = 7 if tree.policy_set else 6
    for compact in (False, True):
        table = [
            (
                level,
                [
                    entry.name,
                    _op_text(entry),
                    _value_text(entry.shape, entry.dtype),
                    _count_text(entry.params, compact),
                    _count_text(entry.fixed + entry.constants, compact),
                    _bytes_text(entry.bytes),
                    entry.policy or "",
                ][:columns],
            )
            for level, entry in visible
        ]
        widths = [
            max([len(_HEADERS[i])] + [len(c[i]) + (2 * lv if i == 0 else 0) for lv, c in table])
            for i in range(columns)
        ]
        if _table_width(widths) <= width:
            break
    for column, narrowest in _SHRINK:
        excess = _table_width(widths) - width
        if excess <= 0:
            break
        if column < columns and widths[column] > narrowest:
            widths[column] = max(narrowest, widths[column] - excess)
    full = min(_table_width(widths), width)
    body = [_line(cells, widths, level)[:width] for level, cells in table]
    header = _line(list(_HEADERS[:columns]), widths, 0)[:width]
    lines = ["-" * full, "Model".center(full).rstrip(), "=" * full, header, "=" * full]
    return lines + body + ["-" * full] + _footer(tree, width)


def _table_width(widths: list[int]) -> int:
    return 1 + sum(widths) + len(_GAP) * (len(widths) - 1)


def _line(cells: list[str], widths: list[int], level: int) -> str:
    out = []
    for i, (cell, size) in enumerate(zip(cells, widths)):
        if i == 0:
            indent = "  " * level
            text = indent + _shorten(cell, max(size - len(indent), 1))
        else:
            text = _shorten(cell, size)
        out.append(text.rjust(size) if i in _RIGHT else text.ljust(size))
    return (" " + _GAP.join(out)).rstrip()


def _shorten(text: str, size: int) -> str:
    """`text` in at most `size` characters, cut in the middle (`enc…self`)."""
    if len(text) <= size:
        return text
    if size <= 1:
        return text[:size]
    head = (size - 1) // 2
    return text[:head] + "…" + text[len(text) - (size - 1 - head) :]


def _footer(tree: Tree, width: int) -> list[str]:
    totals = _totals(tree)
    trainable, trainable_bytes = totals["trainable"]
    fixed, fixed_bytes = totals["non_trainable"]
    constants, constants_bytes = totals["constants"]
    total, total_bytes = totals["total"]
    stored = trainable_bytes + fixed_bytes
    lines = [
        f"Total Parameters: {trainable + fixed} (trainable: {trainable}, {trainable_bytes} bytes;"
        f" non-trainable: {fixed}, {fixed_bytes} bytes)",
        f"Total Parameters Memory: {stored} bytes{_human(stored)}",
        f"Constants: {constants} values, {constants_bytes} bytes{_human(constants_bytes)}",
        f"Total: {total} values, {total_bytes} bytes{_human(total_bytes)}",
        *_file_line(tree.file_initializers),
        _listing("Inputs: ", tree.inputs),
        _listing("Outputs: ", tree.outputs),
    ]
    wrapped = []
    for line in lines:
        wrapped += textwrap.wrap(line, width, subsequent_indent="    ", break_on_hyphens=False)
    return wrapped


def _file_line(counts: dict | None) -> list[str]:
    """An imported model's file: its initializers, trainable weights and constants."""
    if not counts:
        return []
    total = counts["trainable"] + counts["constants"]
    return [
        f"ONNX initializers: {total} values = {counts['trainable']} trainable + "
        f"{counts['constants']} constants"
    ]


def _human(count: int) -> str:
    return f" ({_bytes_text(count)})" if count >= 1024 else ""


def _listing(title: str, values: list[tuple[str, Any, Any]]) -> str:
    return title + ", ".join(f"{name} {_value_text(shape, dtype)}" for name, shape, dtype in values)
