"""The ONNX writer that layer export rules write through, and the table they register in.

Rule modules (the layer families in `axonnx.converters.layers`, `export_jaxpr`) import this
module and register with `@exporter`; `onnx_export` imports the rule modules. The imports
all point down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
import onnx
from onnx import helper, numpy_helper

from axonnx.node import Node
from axonnx.plan import Plan
from axonnx.state import ModelState

__all__ = [
    "EXPORTERS",
    "Exporter",
    "Param",
    "Writer",
    "channels_back",
    "channels_first",
    "elem_type",
    "exporter",
    "is_float",
    "layer_name",
    "outputs_of",
    "rank_of",
    "value_dtype",
]

Exporter = Callable[["Writer", Node, list[str], dict[str, "Param"]], Any]
EXPORTERS: dict[str, Exporter] = {}
"""Layer op -> how it is written, filled by the rule modules' `@exporter`s (imported by
`axonnx.converters.onnx_export`)."""


def exporter(*ops: str) -> Callable[[Exporter], Exporter]:
    """Register how built-in layer ops are written as ONNX nodes."""

    def register(fn: Exporter) -> Exporter:
        for op in ops:
            EXPORTERS[op] = fn
        return fn

    return register


@dataclass(frozen=True)
class Param:
    """A layer parameter on its way into the file: its initializer name, value, metadata."""

    name: str
    value: np.ndarray
    meta: dict


@dataclass
class Writer:
    """Collects ONNX nodes, initializers and value names while a graph is written."""

    opset: int
    plan: Plan
    state: ModelState
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    written: dict[str, np.ndarray] = field(default_factory=dict)
    compute: str = "float32"
    """The float dtype the layer being written computes in (its policy's, else float32)."""
    standard_only: bool = False
    """Write non-standard (contrib) ONNX nodes in their standard forms."""

    def fresh(self, hint: str) -> str:
        """A value or node name not used yet in this graph."""
        base = hint or "value"
        name, k = base, 1
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name

    def op(
        self,
        op_type: str,
        inputs: list[str],
        outputs: int | list[str] = 1,
        *,
        name: str = "",
        domain: str = "",
        **attributes: Any,
    ) -> list[str]:
        """Add one ONNX node; return its output names."""
        if isinstance(outputs, int):
            outputs = [self.fresh(f"{name or op_type}_out{i}") for i in range(outputs)]
        attrs = {k: v for k, v in attributes.items() if v is not None}
        node = helper.make_node(
            op_type,
            inputs,
            outputs,
            name=self.fresh(name or op_type),
            domain=domain or None,
            **attrs,
        )
        self.nodes.append(node)
        return outputs

    def initializer(self, name: str, value: Any) -> str:
        """Add an initializer named `name` (reused when the same name is written twice)."""
        array = np.asarray(value)
        if name in self.written:
            return name
        self.written[name] = array
        self.taken.add(name)
        self.initializers.append(_tensor(array, name))
        return name

    def constant(self, value: Any, hint: str = "const") -> str:
        """A constant tensor (shape, axes, …) as an initializer with a fresh name."""
        return self.initializer(self.fresh(hint), np.asarray(value))

    def scalar(self, value: float, hint: str = "scalar") -> str:
        """A scalar constant in the compute dtype of the layer being written."""
        return self.constant(np.asarray(value, np_dtype(self.compute)), hint)

    def param(self, p: Param, value: Any = None) -> str:
        """A layer parameter as an initializer in its stored dtype (`value` replaces the
        stored value, e.g. transposed), cast to the compute dtype when they differ."""
        array = p.value if value is None else np.asarray(value)
        return self.cast(self.initializer(p.name, array), array.dtype.name)

    def cast(self, name: str, dtype: str | None) -> str:
        """`name` cast to the compute dtype when it is a float of another dtype."""
        if dtype is None or not is_float(dtype) or dtype == self.compute:
            return name
        return self.op("Cast", [name], to=elem_type(self.compute))[0]

    def reduce(self, op_type: str, x: str, axes: list[int], keepdims: bool = True) -> str:
        """`Reduce*` over `axes`: an attribute before the opset made it an input
        (ReduceSum at 13, the others at 18)."""
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        keep = int(keepdims)
        if as_input:
            axes_name = self.constant(np.array(axes, np.int64), "axes")
            return self.op(op_type, [x, axes_name], keepdims=keep)[0]
        return self.op(op_type, [x], axes=list(axes), keepdims=keep)[0]


def np_dtype(dtype: str) -> np.dtype:
    return np.dtype(jax.numpy.dtype(dtype))


def is_float(dtype: str) -> bool:
    return bool(jax.numpy.issubdtype(jax.numpy.dtype(dtype), jax.numpy.floating))


def _tensor(array: np.ndarray, name: str) -> onnx.TensorProto:
    if array.dtype == object:
        return numpy_helper.from_array(array.astype(np.str_).astype(object), name)
    # Not np.ascontiguousarray: it turns a scalar into shape (1,).
    return numpy_helper.from_array(np.asarray(array, order="C"), name)


def elem_type(dtype: str | None) -> int:
    if dtype is None:
        return onnx.TensorProto.FLOAT
    return helper.np_dtype_to_tensor_dtype(np.dtype(jax.numpy.dtype(dtype)))


def value_dtype(node: Node) -> Any:
    """The dtype of a node's value as the compiler produces it (after its policy)."""
    if node.policy is not None and isinstance(node.dtype, str) and is_float(node.dtype):
        return node.policy.output
    return node.dtype


def layer_name(w: Writer, node: Node) -> str:
    """The ONNX node name of a layer: its dotted namespace path and layer name."""
    return node.meta.get("onnx_name") or ".".join(w.plan.key_of(node))


def rank_of(node: Node, default: int = 4) -> int:
    """The rank of a layer's first input."""
    shape = node.parents[0].shape
    return len(shape) if shape else default


def channels_first(w: Writer, x: str, node: Node) -> str:
    """Move channels from last to first (ONNX layout) when the layer is channels-last."""
    if node.options.get("channels", "last") == "first":
        return x
    rank = rank_of(node)
    return w.op("Transpose", [x], perm=[0, rank - 1, *range(1, rank - 1)])[0]


def channels_back(w: Writer, y: str, node: Node, rank: int) -> str:
    """Move channels back to the last axis when the layer is channels-last."""
    if node.options.get("channels", "last") == "first":
        return y
    return w.op("Transpose", [y], perm=[0, *range(2, rank), 1])[0]


def outputs_of(node: Node, last: bool = True) -> list[str] | int:
    """The original output names of an imported layer (for the op that ends it)."""
    outputs = node.meta.get("outputs")
    return list(outputs) if outputs and last else 1
