"""Rewriting graphs: new models from old ones, node by node."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from axonnx.node import Node
from axonnx.plan import plan
from axonnx.policy import Policy

__all__ = ["apply_policy", "map_nodes"]


def map_nodes(model: Node, fn: Callable[[Node, str], Node]) -> Node:
    """Rebuild `model`, replacing each node by `fn(node, layer_name)`.

    `fn` receives each node (parents already rewritten) with its layer name and
    returns it unchanged or a replacement. Rebuilt nodes keep their generated names
    (they become fixed names), so parameters stay where they were. Iterative: deep
    graphs are fine.
    """
    laid_out = plan(model)
    rebuilt: dict[int, Node] = {}
    for node in laid_out.order:
        parents = tuple(rebuilt[p.id] for p in node.parents)
        name = laid_out.names[node.id]
        unchanged = parents == node.parents
        changed = node if unchanged else node.replace(parents=parents, name=name)
        rebuilt[node.id] = fn(changed, laid_out.names[node.id])
    return rebuilt[model.id]


def apply_policy(model: Node, policy: Policy, *, only: Iterable[str] | None = None) -> Node:
    """A copy of `model` whose layers use mixed-precision `policy`.

    Args:
        model: the model.
        policy: e.g. `ax.policy("float32", "bfloat16")` (params f32, compute bf16).
        only: layer names or op names to change; every layer with parameters or
            computation when `None` (inputs, params and constants are kept).

    >>> import axonnx as ax
    >>> model = ax.input("x", shape=(None, 4)).dense(2)
    >>> str(ax.apply_policy(model, ax.policy("float32", "bfloat16")).policy)
    'p=f32 c=bf16 o=f32'
    """
    selected = None if only is None else set(only)

    def assign(node: Node, name: str) -> Node:
        if node.op in ("input", "param", "constant", "container", "namespace", "getitem"):
            return node
        if selected is not None and name not in selected and node.op not in selected:
            return node
        return node.replace(policy=policy)

    return map_nodes(model, assign)
