"""The table of standard forms and the `Call` a form writes through.

A standard form writes one imported non-standard node (an onnxruntime contrib op) as
default-domain ONNX nodes. It is a function `form(call, *inputs, **attributes)`: the
node's inputs as value names in ONNX order (`None` where absent), its attributes as
keyword arguments with the contrib schema's spelling and defaults (as the op's JAX
implementation in `converters/ops/contrib_*.py` takes them), returning the names of
its outputs in order (`None` for an output the node's consumers do not read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from axonnx.converters.onnx_writer import Writer, elem_type
from axonnx.errors import UnsupportedOpError
from axonnx.node import Node
from axonnx.shapes import is_shape

__all__ = ["FORMS", "MS", "Call", "Form", "standard_form"]

MS = "com.microsoft"

Form = Callable[..., "list[str | None] | str"]
FORMS: dict[tuple[str, str, int], Form] = {}
"""(domain, op type, since-version) -> the op's standard form."""


def standard_form(op_type: str, *, domain: str = MS, version: int = 1) -> Callable[[Form], Form]:
    """Register the standard form of a non-standard op (one per op, beside its family)."""

    def register(fn: Form) -> Form:
        FORMS[(domain, op_type, version)] = fn
        return fn

    return register


@dataclass
class Call:
    """One node being written in standard form: the writer, the node, and helpers that
    add default-domain nodes at the writer's opset."""

    w: Writer
    node: Node
    names: list[str | None]
    """The node's input value names (None where absent)."""
    dtype: str = "float32"
    """The float dtype of the node's first float input (scalars are written in it)."""

    @property
    def opset(self) -> int:
        return self.w.opset

    @property
    def where(self) -> str:
        return f"{self.node.meta.get('onnx_name') or self.op_type}"

    @property
    def op_type(self) -> str:
        return self.node.meta["op_type"]

    def fail(self, what: str) -> UnsupportedOpError:
        """The error for a case without a standard form, naming the node and op."""
        return UnsupportedOpError(
            f"export_onnx(standard_only=True): node {self.where!r} ({self.op_type}): {what}"
        )

    def wants(self, index: int) -> bool:
        """Whether output `index` of the node is read (named in the original node)."""
        outputs = self.node.meta.get("outputs") or [""]
        return index < len(outputs) and bool(outputs[index]) or index == 0

    # ------------------------------------------------------------ nodes

    def op(self, op_type: str, *inputs: str | None, **attributes) -> str:
        """One node with one output; `None` inputs become empty names."""
        names = [i or "" for i in inputs]
        while names and not names[-1]:
            names.pop()
        return self.w.op(op_type, names, name=f"{self.where}_{op_type}", **attributes)[0]

    def ops(self, op_type: str, inputs: list[str | None], count: int, **attributes) -> list[str]:
        """One node with `count` outputs."""
        names = [i or "" for i in inputs]
        return self.w.op(op_type, names, count, name=f"{self.where}_{op_type}", **attributes)

    def ints(self, values, hint: str = "ints") -> str:
        """An int64 constant (a list gives a 1-D tensor, an int a scalar)."""
        return self.w.constant(np.asarray(values, np.int64), f"{self.where}_{hint}")

    def scalar(self, value: float, hint: str = "scalar") -> str:
        """A scalar constant in the node's float dtype."""
        return self.w.constant(np.asarray(value, np.dtype(self.dtype)), f"{self.where}_{hint}")

    def lowest(self) -> str:
        """The lowest finite value of the node's float dtype (masked scores)."""
        return self.scalar(float(np.finfo(np.dtype(self.dtype)).min), "lowest")

    def value(self, name: str | None) -> np.ndarray | None:
        """The value of an initializer input (a weight or constant), else None."""
        return None if name is None else self.w.written.get(name)

    # ------------------------------------------------------------ shapes

    def rank(self, index: int) -> int:
        """The rank of input `index`: from axonnx's shapes, else by ONNX shape inference
        of the graph written so far (every node before this one is standard by now)."""
        shape = self.node.parents[index].shape
        if is_shape(shape):
            return len(shape)
        name = self.names[index]
        inferred = _infer_rank(self.w, name)
        if inferred is None:
            raise self.fail(f"the rank of input {index} ({name!r}) is not known")
        return inferred

    def dims(self, x: str, start: int, end: int | None = None) -> str:
        """Entries `start:end` of `x`'s shape as a 1-D int64 tensor."""
        shape = self.op("Shape", x)
        stop = np.iinfo(np.int64).max if end is None else end
        return self.op("Slice", shape, self.ints([start]), self.ints([stop]), self.ints([0]))

    def dim(self, x: str, axis: int) -> str:
        """Dimension `axis` of `x` as a 1-element int64 tensor."""
        return self.dims(x, axis, axis + 1 if axis != -1 else None)

    def to_scalar(self, x: str) -> str:
        """A 1-element tensor as a scalar."""
        return self.op("Reshape", x, self.ints([], "scalar_shape"))

    def arange(self, x: str, axis: int) -> str:
        """`0, 1, ..., x.shape[axis] - 1` as int64."""
        limit = self.to_scalar(self.dim(x, axis))
        return self.op("Range", self.ints(0, "zero"), limit, self.ints(1, "one"))

    # ------------------------------------------------------------ opset-dependent ops

    def unsqueeze(self, x: str, axes: list[int]) -> str:
        if self.opset >= 13:
            return self.op("Unsqueeze", x, self.ints(axes, "axes"))
        return self.op("Unsqueeze", x, axes=list(axes))

    def split(self, x: str, sizes: list[int], axis: int = -1) -> list[str]:
        """`x` split along `axis` into parts of the given sizes."""
        if self.opset >= 13:
            return self.ops("Split", [x, self.ints(sizes, "split")], len(sizes), axis=axis)
        return self.ops("Split", [x], len(sizes), axis=axis, split=list(sizes))

    def halves(self, x: str, axis: int = -1) -> list[str]:
        """`x` split in two equal parts along `axis`."""
        if self.opset >= 18:
            return self.ops("Split", [x], 2, axis=axis, num_outputs=2)
        return self.ops("Split", [x], 2, axis=axis)

    def slice(self, x: str, start: int, end: int | None, axis: int, step: int = 1) -> str:
        stop = np.iinfo(np.int64).max if end is None else end
        ints = self.ints
        return self.op("Slice", x, ints([start]), ints([stop]), ints([axis]), ints([step]))

    def mean(self, x: str, axes: list[int]) -> str:
        return self.w.reduce("ReduceMean", x, axes)

    def cast(self, x: str, dtype: str | int) -> str:
        to = dtype if isinstance(dtype, int) else elem_type(dtype)
        return self.op("Cast", x, to=to)


def _infer_rank(w: Writer, name: str) -> int | None:
    """The rank ONNX shape inference gives `name` in the nodes written so far."""
    inputs = [
        helper.make_tensor_value_info(
            w.plan.names[node.id],
            elem_type(node.options.get("dtype")),
            None
            if node.options.get("shape") is None
            else [d or "n" for d in node.options["shape"]],
        )
        for node in w.plan.order
        if node.op == "input"
    ]
    graph = helper.make_graph(
        w.nodes, "partial", inputs, [helper.make_empty_tensor_value_info(name)], w.initializers
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", w.opset)])
    model.ir_version = onnx.IR_VERSION
    inferred = onnx.shape_inference.infer_shapes(model)
    for info in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        if info.name == name and info.type.tensor_type.HasField("shape"):
            return len(info.type.tensor_type.shape.dim)
    shapes = {t.name: t.dims for t in w.initializers}
    return len(shapes[name]) if name in shapes else None
