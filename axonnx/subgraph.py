"""A nested graph held by a control-flow node (ONNX If/Loop/Scan bodies), run as a
function of its formal inputs and the outer values it captures."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from axonnx.compiler import run
from axonnx.node import Node
from axonnx.plan import Plan, plan
from axonnx.state import ModelState

__all__ = ["Subgraph", "subgraphs"]


@dataclass(frozen=True, eq=False)
class Subgraph:
    """A converted ONNX subgraph (If/Loop/Scan body) run as a function.

    Attributes:
        model: container (a tuple) of the subgraph's outputs.
        inputs: names of the subgraph's formal inputs, in order.
        captures: names of outer-scope values the subgraph reads.
    """

    model: Node
    inputs: tuple[str, ...]
    captures: tuple[str, ...]

    @functools.cached_property
    def plan(self) -> Plan:
        """The subgraph laid out for execution (computed once)."""
        return plan(self.model)

    def __call__(self, *formal: Any, env: Mapping[str, Any]) -> tuple:
        """Run with formal inputs and captured outer values `env` (name → value)."""
        feed = dict(zip(self.inputs, formal, strict=True))
        feed.update({n: env[n] for n in self.captures})
        outputs, _, _ = run(self.plan, ModelState({}, {}), feed)
        return outputs


def subgraphs(node: Node) -> list[Subgraph]:
    """The subgraphs a node holds among its options (none for most nodes)."""
    return [v for v in node.options.values() if isinstance(v, Subgraph)]
