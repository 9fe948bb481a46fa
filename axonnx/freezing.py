"""Freezing: mark layers whose parameters training must leave alone.

A frozen layer keeps its parameters bit for bit during training: the trainer of
`axonnx.loop` differentiates only the trainable parameters, and the optimizer holds
no state (no moments) for frozen ones. Freezing is a property of the model graph
(`node.meta["frozen"]`), so it travels with the model when it is saved.

>>> import axonnx as ax
>>> body = ax.namespace(ax.input("x", shape=(None, 4)).dense(8), "body")
>>> model = ax.freeze(body.dense(2), namespace="body")
>>> sorted("/".join(p) for p in frozen_paths(model))
['body/dense_0/bias', 'body/dense_0/kernel']
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from axonnx.naming import op_label
from axonnx.node import Node
from axonnx.plan import plan

__all__ = ["freeze", "frozen_paths", "merge_params", "split_params", "unfreeze"]


def freeze(
    model: Node, *, namespace: str | None = None, name: str | None = None, op: str | None = None
) -> Node:
    """A copy of `model` whose selected layers are frozen (no updates when training).

    Selectors combine with "and"; with none, every layer is frozen.

    Args:
        model: the model.
        namespace: layers inside this namespace (`"bert"`, or `"outer/inner"`).
        name: a glob pattern matched against the layer name (`"embeddings.*"`) and
            against its full path (`"bert/embeddings.*"`).
        op: a layer type, e.g. `"embedding"`, `"dense"`, `"layer_norm"`, `"Conv"`.

    Returns:
        The new model; layer names are kept (generated ones are pinned), so a state
        made for `model` fits it.

    >>> import axonnx as ax
    >>> model = ax.input("x", shape=(None, 4)).dense(8).dense(2)
    >>> sorted("/".join(p) for p in frozen_paths(ax.freeze(model, name="dense_0")))
    ['dense_0/bias', 'dense_0/kernel']
    """
    return _mark(model, _selector(namespace, name, op), True)


def unfreeze(
    model: Node, *, namespace: str | None = None, name: str | None = None, op: str | None = None
) -> Node:
    """A copy of `model` whose selected layers are trainable again (see `freeze`).

    >>> import axonnx as ax
    >>> model = ax.freeze(ax.input("x", shape=(None, 4)).dense(8).dense(2))
    >>> sorted("/".join(p) for p in frozen_paths(ax.unfreeze(model, name="dense_1")))
    ['dense_0/bias', 'dense_0/kernel']
    """
    return _mark(model, _selector(namespace, name, op), False)


Selector = Callable[[Node, str, tuple[str, ...]], bool]


def _selector(namespace: str | None, name: str | None, op: str | None) -> Selector:
    prefix = tuple(namespace.split("/")) if namespace else ()

    def selected(node: Node, layer: str, path: tuple[str, ...]) -> bool:
        if path[: len(prefix)] != prefix:
            return False
        full = "/".join(path + (layer,))
        if name is not None and not (
            fnmatch.fnmatchcase(layer, name) or fnmatch.fnmatchcase(full, name)
        ):
            return False
        return op is None or op in (node.op, op_label(node.op))

    return selected


def _owns_params(node: Node) -> bool:
    return bool(node.params) or node.op == "param"


def _mark(model: Node, selected: Selector, frozen: bool) -> Node:
    """Rebuild the graph; pin every generated name so parameter paths stay the same."""
    laid_out = plan(model)
    rebuilt: dict[int, Node] = {}
    for node in laid_out.order:
        parents = tuple(rebuilt[p.id] for p in node.parents)
        meta = dict(node.meta)
        if _owns_params(node) and selected(node, laid_out.names[node.id], laid_out.paths[node.id]):
            meta["frozen"] = frozen
        rebuilt[node.id] = node.replace(parents=parents, name=laid_out.names[node.id], meta=meta)
    return rebuilt[model.id]


def frozen_paths(model: Node) -> set[tuple[str, ...]]:
    """Paths in `state.params` of every frozen trainable parameter of `model`."""
    laid_out = plan(model)
    paths = set()
    for node in laid_out.order:
        if not node.meta.get("frozen", False):
            continue
        if node.op == "param":
            if node.params[0].kind == "param":
                paths.add(laid_out.key_of(node))
            continue
        for spec in node.params:
            if spec.kind == "param":
                paths.add(laid_out.key_of(node) + (spec.name,))
    return paths


def split_params(
    params: dict[str, Any], frozen: set[tuple[str, ...]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split nested `params` into `(trainable, frozen)` nested dicts by leaf path."""
    trainable: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    _split(params, (), frozen, trainable, fixed)
    return trainable, fixed


def _split(tree: Any, path: tuple, frozen: set, trainable: dict, fixed: dict) -> None:
    for key, value in tree.items():
        here = path + (key,)
        if isinstance(value, dict):
            a, b = {}, {}
            _split(value, here, frozen, a, b)
            if a:
                trainable[key] = a
            if b:
                fixed[key] = b
        elif here in frozen:
            fixed[key] = value
        else:
            trainable[key] = value


def merge_params(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The union of two nested dicts with disjoint leaves (inverse of `split_params`)."""
    merged = dict(a)
    for key, value in b.items():
        if key in merged and isinstance(value, dict):
            merged[key] = merge_params(merged[key], value)
        else:
            merged[key] = value
    return merged
