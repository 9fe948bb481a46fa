"""A graph laid out for execution: its nodes in topological order, their generated
names and their namespaces. Graph knowledge that the compiler, the engine, the
summary, freezing and the converters share."""

from __future__ import annotations

from dataclasses import dataclass

from axonnx.naming import check_unique, layer_names, namespace_paths, op_label
from axonnx.node import Node, topological_order

__all__ = ["Plan", "plan"]


@dataclass(frozen=True)
class Plan:
    """A graph laid out for execution: nodes in order, their names and namespaces."""

    output: Node
    order: list[Node]
    names: dict[int, str]
    paths: dict[int, tuple[str, ...]]

    def key_of(self, node: Node) -> tuple[str, ...]:
        """Where a layer's entry lives in `params`/`state`."""
        return self.paths[node.id] + (self.names[node.id],)

    @property
    def inputs(self) -> list[Node]:
        """The input nodes, in topological order."""
        return [n for n in self.order if n.op == "input"]

    def where(self, node: Node) -> str:
        """`name (op)` for error messages."""
        return f"{'/'.join(self.key_of(node))} ({op_label(node.op)})"


def plan(model: Node) -> Plan:
    """Order, name and namespace the nodes of `model`."""
    if not isinstance(model, Node):
        raise TypeError(f"expected an axonnx Node as the model, got {type(model).__name__}")
    order = topological_order(model)
    names = layer_names(order)
    paths = namespace_paths(order)
    check_unique(order, names, paths)
    return Plan(model, order, names, paths)
