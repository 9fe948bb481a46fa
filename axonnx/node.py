"""The graph-node model: a model is an immutable graph of `Node` values."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field, replace
from types import MappingProxyType
from typing import Any

from axonnx.policy import Policy

__all__ = ["Node", "ParamSpec", "Shape", "topological_order"]

Shape = tuple[int | None, ...]
"""A tensor shape; `None` marks a dimension known only at run time (e.g. the batch)."""

_ids = itertools.count()


@dataclass(frozen=True)
class ParamSpec:
    """A parameter a layer owns.

    Attributes:
        name: key of the value inside the layer's entry of the state (e.g. `"kernel"`).
        shape: concrete shape of the value.
        initializer: an initializer name from `axonnx.initializers` or a callable
            `init(key, shape, dtype)`.
        dtype: storage dtype (before a policy is applied).
        kind: `"param"` for trainable parameters, `"state"` for non-trainable state
            such as batch-norm statistics.
        meta: provenance, e.g. `{"onnx_name": "encoder.layer.0.query.weight"}`.
    """

    name: str
    shape: tuple[int, ...]
    initializer: str | Callable = "glorot_uniform"
    dtype: str = "float32"
    kind: str = "param"
    meta: Mapping[str, Any] = field(default_factory=dict)


def _freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False, repr=False)
class Node:
    """One node of a model graph.

    A node names an op (a function registered in `axonnx.op_table`), the nodes whose
    outputs feed it, the parameters it owns and the keyword options of its op. Nodes
    are immutable and compared by identity; the graph is the set of ancestors of an
    output node. Methods such as `x.dense(128)`, `x[0]` (one output) and `repr(x)` (the
    summary) are the builders' functions, attached in `axonnx.builders.methods`.

    Attributes:
        op: registered op name, e.g. `"dense"` or `"onnx::Slice@13"`.
        parents: input nodes, in the order the op takes them.
        params: parameters owned by this node, passed to the op after the inputs.
        options: keyword arguments of the op.
        name, policy, shape, dtype, meta, id: keyword-only.
        name: user-given name, or `None` for a generated one (`dense_0`, in topological
            order, assigned when the model is compiled or printed).
        policy: mixed-precision policy, `None` for the default (float32 everywhere).
        shape: inferred output shape (nested tuples/dicts for several outputs),
            `None` where unknown.
        dtype: inferred output dtype name (nested like `shape`), `None` where unknown.
        meta: provenance that is not an op option (ONNX node name, opset, …).
        id: unique id, increasing in creation order.
    """

    op: str
    parents: tuple[Node, ...] = ()
    params: tuple[ParamSpec, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    _: KW_ONLY
    name: str | None = None
    policy: Policy | None = None
    shape: Any = None
    dtype: Any = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    id: int = field(default_factory=lambda: next(_ids))

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _freeze(self.options))
        object.__setattr__(self, "meta", _freeze(self.meta))

    def replace(self, **changes: Any) -> Node:
        """A copy of this node with some fields changed and a fresh id."""
        changes.setdefault("id", next(_ids))
        return replace(self, **changes)


def topological_order(outputs: Node | list[Node]) -> list[Node]:
    """All nodes that `outputs` depend on, parents before children, without recursion.

    Ties are broken by creation order, so the order (and generated names) is stable.
    """
    roots = outputs if isinstance(outputs, list) else [outputs]
    seen: dict[int, Node] = {}
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node.id not in seen:
            seen[node.id] = node
            stack.extend(node.parents)
    return _kahn(seen)


def _kahn(nodes: dict[int, Node]) -> list[Node]:
    import heapq

    waiting = {i: len({p.id for p in n.parents}) for i, n in nodes.items()}
    children: dict[int, list[int]] = {i: [] for i in nodes}
    for i, n in nodes.items():
        for pid in {p.id for p in n.parents}:
            children[pid].append(i)
    ready = [i for i, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, c)
    return order
