"""Running imported models: jit-compiled per input signature, eager where it must be.

Rules (documented for users):
- A model runs under `jax.jit`, compiled once per distinct set of input shapes and
  dtypes (cached).
- Graph inputs that feed a shape-like slot (Reshape's shape, Slice's starts, …) and
  string inputs are static: their values are baked into the compilation, one per
  distinct value.
- A model containing an op whose output shape depends on data (NonZero, Unique,
  Compress, NonMaxSuppression, …), or computing with strings (JAX has no string
  arrays), runs eagerly, op by op, outside `jax.jit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from axonnx.compiler import Plan, plan, run
from axonnx.converters.registry import spec_of
from axonnx.node import Node
from axonnx.ops import get_op
from axonnx.state import ModelState

__all__ = ["Runtime"]


class Runtime:
    """A callable that runs `model` with `state` on a dict of named inputs."""

    def __init__(self, model: Node, state: ModelState):
        self.plan: Plan = plan(model)
        self.state = state
        self.static_names = _static_inputs(self.plan)
        self.eager = model.meta.get("onnx_strings", False) or any(
            get_op(n.op).data_dependent for n in self.plan.order if n.op not in ("input", "param")
        )
        self._compiled: dict[tuple, Any] = {}

    def __call__(self, inputs: Mapping[str, Any]) -> Any:
        """The model's outputs for `inputs` (name → array)."""
        if self.eager:
            return run(self.plan, self.state, dict(inputs))[0]
        static = {n: np.asarray(v) for n, v in inputs.items() if self._is_static(n, v)}
        dynamic = {n: v for n, v in inputs.items() if n not in static}
        signature = tuple((n, v.dtype.str, v.shape, v.tobytes()) for n, v in sorted(static.items()))
        compiled = self._compiled.get(signature)
        if compiled is None:
            compiled = jax.jit(lambda state, feed: run(self.plan, state, {**feed, **static})[0])
            self._compiled[signature] = compiled
        return compiled(self.state, dynamic)

    def intermediates(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Every value that came from an ONNX node, by its ONNX value name (run eagerly;
        for bisecting a mismatch)."""
        _, _, kept = run(self.plan, self.state, dict(inputs), keep=_onnx_value_name)
        by_id = {n.id: n for n in self.plan.order}
        values = {}
        for node_id, value in kept.items():
            name = _onnx_value_name(by_id[node_id])
            if isinstance(value, np.ndarray | jax.Array):
                values[name] = np.asarray(value)
        return values

    def _is_static(self, name: str, value: Any) -> bool:
        return name in self.static_names or np.asarray(value).dtype == object


def _onnx_value_name(node: Node) -> str | None:
    """The ONNX name of the value a node produces, if it produces exactly one."""
    if "onnx_output" in node.meta:
        return node.meta["onnx_output"]
    outputs = node.meta.get("outputs") or []
    return outputs[0] if len(outputs) == 1 else None


def _static_inputs(laid_out: Plan) -> set[str]:
    """Graph inputs whose values reach a shape-like slot (directly or through other ops;
    Shape and Size only read shapes, so the walk stops there)."""
    names, seen = set(), set()
    stack = [p for node in laid_out.order for p in _static_parents(node)]
    while stack:
        node = stack.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        if node.op == "input":
            names.add(laid_out.names[node.id])
        elif node.meta.get("op_type") not in ("Shape", "Size"):
            stack.extend(node.parents)
    return names


def _static_parents(node: Node) -> list[Node]:
    spec = spec_of(node.op)
    if spec is None:
        return []
    return [p for i, p in enumerate(node.parents) if i in spec.static_inputs]

