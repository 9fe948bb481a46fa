"""Types of the values the schema check sees: declared, or from ONNX shape inference
on a copy of the model without its large weights."""

from __future__ import annotations

import math

import onnx
from onnx import helper

from axonnx.converters.safety_tensors import tensor_bytes

__all__ = ["Scope", "Value", "has_type", "type_text", "typed_copy"]

_T = onnx.TensorProto
_ELEMENTS = {number: name.lower() for name, number in _T.DataType.items() if number}
_SMALL = 4096  # bytes: initializers kept in the copy that shape inference sees


def has_type(type_proto: onnx.TypeProto) -> bool:
    """Whether `type_proto` says what the value is (a tensor needs its element type)."""
    kind = type_proto.WhichOneof("value")
    if kind == "tensor_type":
        return type_proto.tensor_type.elem_type != _T.UNDEFINED
    if kind == "sparse_tensor_type":
        return type_proto.sparse_tensor_type.elem_type != _T.UNDEFINED
    return kind is not None


def typed_copy(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of the model with types filled in by shape inference where it can: large
    initializers become typed inputs (their data is not needed for types). When
    inference fails, the copy with the declared types only."""
    graph = proto.graph
    large = [t for t in graph.initializer if _nbytes(t) > _SMALL]
    big = {t.name for t in large}
    typed = [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in large]
    light = helper.make_graph(
        list(graph.node),
        graph.name,
        [v for v in graph.input if v.name not in big] + typed,
        list(graph.output),
        [t for t in graph.initializer if t.name not in big],
        value_info=list(graph.value_info),
    )
    light.sparse_initializer.extend(graph.sparse_initializer)
    model = helper.make_model(
        light, opset_imports=list(proto.opset_import), ir_version=proto.ir_version
    )
    model.functions.extend(proto.functions)
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False)
    except Exception:  # noqa: BLE001  (inference is best effort: fall back to declared types)
        return model


def _nbytes(tensor: onnx.TensorProto) -> int:
    """The tensor's data size as its dims declare it (without touching its data)."""
    count = math.prod(tensor.dims)
    if tensor.data_type == _T.STRING:
        return 8 * count
    return tensor_bytes(tensor, count)


class Value:
    """A value's declared type (a `TypeProto`, or an initializer's `TensorProto`), read
    into a type string on first use, and into a shape only when a check asks for it."""

    __slots__ = ("source", "_text")

    def __init__(self, source):
        self.source, self._text = source, False

    def text(self) -> str | None:
        """`tensor(float)`, `seq(tensor(int64))`, …; None when unknown."""
        if self._text is False:
            source = self.source
            if isinstance(source, onnx.TensorProto):
                element = _ELEMENTS.get(source.data_type)
                self._text = f"tensor({element})" if element else None
            else:
                self._text = type_text(source)
        return self._text

    def shape(self) -> tuple | None:
        """The dims of a tensor (None for symbolic ones); None when unknown."""
        source = self.source
        if isinstance(source, onnx.TensorProto):
            return tuple(source.dims)
        if source.WhichOneof("value") != "tensor_type" or not source.tensor_type.HasField("shape"):
            return None
        dims = source.tensor_type.shape.dim
        return tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)


def type_text(type_proto: onnx.TypeProto) -> str | None:
    """The type as onnx.defs writes it: `tensor(float)`, `seq(tensor(int64))`,
    `optional(tensor(bool))`; None for what is unknown or not compared (maps, sparse
    tensors, undefined element types)."""
    wrappers, current = [], type_proto
    while True:
        kind = current.WhichOneof("value")
        if kind == "tensor_type":
            break
        if kind == "sequence_type":
            wrappers.append("seq")
            current = current.sequence_type.elem_type
        elif kind == "optional_type":
            wrappers.append("optional")
            current = current.optional_type.elem_type
        else:
            return None
    element = _ELEMENTS.get(current.tensor_type.elem_type)
    if element is None:
        return None
    text = f"tensor({element})"
    for wrapper in reversed(wrappers):
        text = f"{wrapper}({text})"
    return text


class Scope:
    """Types of the values visible in the graph being checked: one dict; entering a
    subgraph shadows names, leaving it restores them (no chain to walk per lookup)."""

    def __init__(self, declared: set[str]):
        self.values: dict[str, Value] = {}
        self.declared = declared  # names whose type the file states (not inferred)

    def enter(self, graph: onnx.GraphProto) -> list:
        """Add the graph's declared values; return what `leave` needs to undo that."""
        undo: list = []
        own = [(v.name, v.type) for v in [*graph.value_info, *graph.output, *graph.input]]
        own += [(t.name, t) for t in graph.initializer]
        for name, source in own:
            undo.append((name, self.values.get(name)))
            self.values[name] = Value(source)
        return undo

    def leave(self, undo: list) -> None:
        """Restore the names `enter` shadowed."""
        for name, previous in reversed(undo):
            if previous is None:
                self.values.pop(name, None)
            else:
                self.values[name] = previous

    def type_of(self, name: str) -> str | None:
        """The type string of value `name`, None if unknown."""
        value = self.values.get(name)
        return value.text() if value is not None else None

    def shape_of(self, name: str) -> tuple | None:
        """The shape of tensor value `name` (None for unknown dims), None if unknown."""
        value = self.values.get(name)
        return value.shape() if value is not None else None
