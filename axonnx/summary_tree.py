"""The tree a model summary shows: layers grouped by name scope, shape arithmetic
folded into the layers that use it, identical repeated blocks collapsed into one entry.

Scopes come from `ax.namespace`, from the ONNX node names PyTorch's TorchScript
exporter writes (`/encoder/layer.0/attention/self/MatMul`), from the module paths the
dynamo exporter records (`meta["name_scopes"]`), and from dotted initializer names.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from axonnx.naming import op_label
from axonnx.node import Node
from axonnx.plan import plan
from axonnx.summary_dims import named_shapes
from axonnx.summary_scopes import OUTSIDE, Entry, assemble, freeze, hoisted

__all__ = ["Tree", "build_tree"]

_SKIPPED = ("none", "namespace")


@dataclass
class Tree:
    """A summary's tree with the model's totals, inputs and outputs."""

    root: Entry
    inputs: list[tuple[str, Any, Any]]
    outputs: list[tuple[str, Any, Any]]
    policy_set: bool
    file_initializers: dict | None = None  # an imported model's, as counted on import


def build_tree(model: Node) -> Tree:
    """The summary tree of `model`."""
    laid_out = plan(model)
    order, names = laid_out.order, laid_out.names
    imported = any("op_type" in n.meta for n in order)
    shapes = named_shapes(order)
    by_id = {n.id: n for n in order}
    skipped = {n.id for n in order if n.op in _SKIPPED}
    if model.op == "container":
        skipped.add(model.id)
    consumers: dict[int, list[Node]] = {n.id: [] for n in order}
    for node in order:
        for parent in dict.fromkeys(node.parents):
            consumers[parent.id].append(node)
    places = {n.id: _place(n, names[n.id], laid_out.paths[n.id], imported) for n in order}
    rows = _fold(order, consumers, skipped, places)

    entries: dict[int, Entry] = {}
    for node in order:
        if node.id in skipped:
            continue
        target = rows[node.id]
        if target not in entries:
            entries[target] = _entry(by_id[target], names, places, shapes, imported)
        entry = entries[target]
        _count(entry, node)
        if node.op == "getitem" and node.id != target:
            entry.parts.append(("out", node.options.get("index"), freeze(shapes[node.id])))
            _outputs_of(entry, node.options.get("index"), shapes[node.id], node.dtype)
    users: dict[int, set] = {i: set() for i in entries}
    for node in order:  # who uses a row's values: not the users of what is folded into it
        if node.id in skipped or (rows[node.id] != node.id and node.op != "getitem"):
            continue
        for user in consumers[node.id]:
            if user.id in skipped:
                users[rows[node.id]].add(None)
            elif rows[user.id] != rows[node.id]:
                users[rows[node.id]].add(rows[user.id])
    if model.id in entries:
        users[model.id].add(None)
    paths = {i: places[i][0] for i in entries}
    paths = {i: hoisted(paths[i], [paths[u] for u in users[i] if u is not None]) for i in entries}
    for node_id, entry in entries.items():
        entry.path = paths[node_id]
        entry.exits = tuple(OUTSIDE if u is None else paths[u] for u in users[node_id])
        entry.signature = (entry.kind, entry.op, freeze(entry.shape), entry.dtype, entry.policy)
        entry.signature += tuple(sorted(entry.parts, key=repr))
    root = assemble([entries[n.id] for n in order if n.id in entries])
    return Tree(
        root,
        [(names[n.id], shapes[n.id], n.dtype) for n in laid_out.inputs],
        _model_outputs(model, names, shapes),
        any(e.policy for e in entries.values()),
        model.meta.get("onnx_initializers"),
    )


def _place(node: Node, name: str, path: tuple[str, ...], imported: bool) -> tuple[tuple, str]:
    """`(scope path, label)` of a node."""
    if node.op == "input":
        return (), name
    if path or not imported:
        return path, name
    scopes = node.meta.get("name_scopes")
    if scopes:
        modules = _modules(scopes)
        if modules is not None:
            label = name.removeprefix("node_")
            return modules, label.rsplit(".", 1)[-1]
    onnx_name = node.meta.get("onnx_name") or ""
    parts = [p for p in onnx_name.split("/") if p]
    if "/" in onnx_name and parts:
        if name == ".".join(parts):
            return tuple(parts[:-1]), parts[-1]
        if len(parts) > 1 and name == ".".join(parts[:-1]):
            return tuple(parts[:-2]), parts[-2]
    dotted = _dotted(name)
    return tuple(dotted[:-1]), dotted[-1]


def _modules(scopes: str) -> tuple[str, ...] | None:
    """`"['', 'encoder', 'encoder.layer.1', 'add_3']"` → `("encoder", "layer.1")`."""
    try:
        items = ast.literal_eval(scopes)
    except (ValueError, SyntaxError):
        return None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return None
    segments, previous = [], ""
    for item in items[:-1]:  # the last is the node's own name
        if not item:
            continue
        if previous and item.startswith(previous + "."):
            segments.append(item[len(previous) + 1 :])
        elif not item.startswith("_"):
            segments.append(item)
        previous = item
    return tuple(segments)


def _dotted(name: str) -> list[str]:
    """`"encoder.layer.0.output.dense"` → `["encoder", "layer.0", "output", "dense"]`."""
    parts: list[str] = []
    for part in name.split("."):
        if parts and part.isdigit():
            parts[-1] += "." + part
        else:
            parts.append(part)
    return parts or [name]


def _is_static(node: Node, static: dict[int, bool]) -> bool:
    """Whether a node's value follows only from shapes and constants."""
    op_type = node.meta.get("op_type")
    if node.op == "constant" or op_type in ("Shape", "Size", "Constant"):
        return True
    if node.op in ("input", "param", "container", *_SKIPPED) or node.params:
        return False
    real = [p for p in node.parents if p.op != "none"]
    return bool(real) and all(static[p.id] for p in real)


def _fold(order, consumers, skipped, places) -> dict[int, int]:
    """Map node id → id of the node whose row shows it."""
    static: dict[int, bool] = {}
    for node in order:
        static[node.id] = _is_static(node, static)
    target: dict[int, int] = {}
    for node in reversed(order):
        if node.id in skipped:
            continue
        users = [c for c in consumers[node.id] if c.id not in skipped]
        if node.op == "getitem" and node.name is None and not static[node.id]:
            target[node.id] = node.parents[0].id
        elif users and (static[node.id] or (node.op == "param" and "onnx_name" in node.meta)):
            same = [c for c in users if places[c.id][0] == places[node.id][0]]
            target[node.id] = (same or users)[0].id
        else:
            target[node.id] = node.id

    def resolve(node_id: int) -> int:
        seen = set()
        while target[node_id] != node_id and node_id not in seen:
            seen.add(node_id)
            node_id = target[node_id]
        return node_id

    return {i: resolve(i) for i in target}


def _entry(node, names, places, shapes, imported) -> Entry:
    path, label = places[node.id]
    kind = "input" if node.op == "input" else "layer"
    inputs = () if imported else tuple(names[_through(p).id] for p in node.parents)
    return Entry(
        label,
        kind,
        op_label(node.op),
        shapes[node.id],
        node.dtype,
        nodes=0,
        policy=str(node.policy) if _computes_floats(node) else None,
        inputs=inputs,
        path=path,
        imported="onnx_name" in node.meta or "op_type" in node.meta,
    )


def _computes_floats(node: Node) -> bool:
    """Whether a node's policy matters: it has parameters or a float (or unknown) output;
    a policy on a Shape or a boolean mask is noise."""
    if node.policy is None or node.op in ("input", "constant"):
        return False
    dtypes = node.dtype if isinstance(node.dtype, list | tuple) else [node.dtype]
    floats = any(d is None or str(d).startswith(("float", "bfloat", "complex")) for d in dtypes)
    return bool(node.params) or floats


def _through(node: Node) -> Node:
    """The node whose value a namespace passes on."""
    while node.op == "namespace" and node.parents:
        node = node.parents[0]
    return node


def _outputs_of(entry: Entry, index, shape, dtype) -> None:
    """Give a multi-output node without a known shape the shapes of its outputs."""
    if entry.shape is not None and not isinstance(entry.shape, list):
        return
    if not isinstance(index, int):
        return
    shapes = entry.shape if isinstance(entry.shape, list) else []
    dtypes = entry.dtype if isinstance(entry.dtype, list) else []
    while len(shapes) <= index:
        shapes.append(None)
        dtypes.append(None)
    shapes[index], dtypes[index] = shape, dtype
    entry.shape, entry.dtype = shapes, dtypes


def _count(entry: Entry, node: Node) -> None:
    entry.nodes += 1
    for spec in node.params:
        size = math.prod(spec.shape)
        dtype = node.policy.params if node.policy else spec.dtype
        nbytes = size * _itemsize(dtype)
        if spec.kind == "param" and not node.meta.get("frozen", False):
            entry.params, entry.params_bytes = entry.params + size, entry.params_bytes + nbytes
        else:
            entry.fixed, entry.fixed_bytes = entry.fixed + size, entry.fixed_bytes + nbytes
        entry.parts.append(("param", tuple(spec.shape), spec.dtype))
    if node.op == "constant" and not node.meta.get("folded"):  # folded: shape arithmetic
        value = np.asarray(node.options["value"])
        entry.constants += value.size
        entry.constants_bytes += value.nbytes


def _itemsize(dtype: str) -> int:
    import jax.numpy as jnp

    return np.dtype(jnp.dtype(dtype)).itemsize


def _model_outputs(model: Node, names, shapes) -> list[tuple[str, Any, Any]]:
    if model.op != "container":
        return [(names[model.id], shapes[model.id], model.dtype)]
    structure = model.options["structure"]
    keys = structure.items() if isinstance(structure, dict) else enumerate(structure)
    outputs = []
    for key, position in keys:
        if isinstance(position, int):
            parent = model.parents[position]
            outputs.append((str(key), shapes[parent.id], parent.dtype))
        else:
            outputs.append((str(key), None, None))
    return outputs
