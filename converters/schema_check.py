"""Checking an ONNX model's nodes against their operator schemas (`onnx.defs`).

`check_schemas` walks the graph and every subgraph (with a stack, not recursion) and
collects, for each node whose (domain, op type, opset) onnx.defs knows:

- attributes: only names the op defines, each of its declared type; required ones set;
- inputs and outputs: counts within the schema's bounds, no empty name for a required
  input;
- types: each value's type among those its type constraint allows, and one type per
  type variable across a node's inputs and outputs;
- subgraphs: Loop, Scan, If and SequenceMap bodies take and return as many values as
  the node's signature says, of the same types where both are known;
- convolutions: input, weight and attributes agree in rank;

and, for the main graph, that every input has a type. Types come from graph inputs,
initializers, value_info and ONNX shape inference (non-strict, on a copy without the
large weights, so its cost does not grow with them); where inference fails only the
declared types are used, and a value of unknown type is not checked. Ops without a
schema (custom domains such as com.microsoft, model-local functions) and deprecated
schemas are skipped. Every problem is reported in one `InvalidModelError`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import onnx
from onnx import helper

from axonnx.converters.safety import tensor_bytes
from axonnx.errors import InvalidModelError

__all__ = ["check_schemas", "describe_problems", "schema_problems"]

_A = onnx.AttributeProto
_T = onnx.TensorProto
_ELEMENTS = {number: name.lower() for name, number in _T.DataType.items() if number}
_VARIADIC = onnx.defs.OpSchema.FormalParameterOption.Variadic
_SINGLE = onnx.defs.OpSchema.FormalParameterOption.Single
_UNBOUNDED = 2**31 - 1
_SMALL = 4096  # bytes: initializers kept in the copy that shape inference sees
_SHOWN = 20  # problems listed in the message (all are counted)
_CONVS = {"Conv": 1, "ConvInteger": 1, "ConvTranspose": 1, "QLinearConv": 3}


def check_schemas(proto: onnx.ModelProto) -> None:
    """Raise `InvalidModelError` listing every problem `schema_problems` finds."""
    problems = schema_problems(proto)
    if problems:
        raise InvalidModelError(describe_problems(problems))


def describe_problems(problems: list[str]) -> str:
    """One line: the number of problems, then the first `_SHOWN` of them."""
    shown = "; ".join(problems[:_SHOWN])
    more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    return f"invalid ONNX model ({count}): {shown}{more}"


def schema_problems(proto: onnx.ModelProto) -> list[str]:
    """Every schema problem of `proto`'s graphs, in graph order (main graph first)."""
    opsets = {
        ("" if entry.domain == "ai.onnx" else entry.domain): entry.version
        for entry in proto.opset_import
    }
    problems = untyped_inputs(proto.graph)
    scope = _Scope(_declared_names(proto.graph))
    stack: list[tuple[onnx.GraphProto, str] | list] = [(_typed_copy(proto).graph, "")]
    while stack:
        item = stack.pop()
        if isinstance(item, list):  # leaving a graph: restore the enclosing scope
            scope.leave(item)
            continue
        graph, prefix = item
        stack.append(scope.enter(graph))
        for node in graph.node:
            found = node_problems(node, opsets, scope)
            subgraphs = list(_subgraphs(node))
            if found or subgraphs:
                label = f"{prefix}{node_label(node)}"
                problems += [label + p for p in found]
                stack.extend((sub, f"{label} {name}: ") for name, sub in subgraphs)
    return problems


def _declared_names(graph: onnx.GraphProto) -> set[str]:
    """Names of the values whose type the file itself declares, in every graph."""
    names: set[str] = set()
    stack = [graph]
    while stack:
        g = stack.pop()
        names.update(v.name for v in [*g.value_info, *g.output] if _has_type(v.type))
        stack.extend(sub for node in g.node for _, sub in _subgraphs(node))
    return names


def node_label(node: onnx.NodeProto) -> str:
    """`node 'name' (OpType)`; an unnamed node goes by its first output."""
    name = node.name or (node.output[0] if node.output else "")
    return f"node {name!r} ({node.op_type})"


def untyped_inputs(graph: onnx.GraphProto) -> list[str]:
    """A problem for each graph input that declares no type (inputs that are also
    initializers take the initializer's type)."""
    initialized = {t.name for t in graph.initializer}
    initialized |= {s.values.name for s in graph.sparse_initializer}
    return [
        f"graph input {value.name!r}: expected a type (a tensor element type), found none"
        for value in graph.input
        if value.name not in initialized and not _has_type(value.type)
    ]


def _has_type(type_proto: onnx.TypeProto) -> bool:
    kind = type_proto.WhichOneof("value")
    if kind == "tensor_type":
        return type_proto.tensor_type.elem_type != _T.UNDEFINED
    if kind == "sparse_tensor_type":
        return type_proto.sparse_tensor_type.elem_type != _T.UNDEFINED
    return kind is not None


def _subgraphs(node: onnx.NodeProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    for attr in node.attribute:
        if attr.type == _A.GRAPH:
            yield attr.name, attr.g
        elif attr.type == _A.GRAPHS:
            yield from ((f"{attr.name}[{i}]", g) for i, g in enumerate(attr.graphs))


# ---------------------------------------------------------------- types of values


def _typed_copy(proto: onnx.ModelProto) -> onnx.ModelProto:
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


class _Value:
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


class _Scope:
    """Types of the values visible in the graph being checked: one dict; entering a
    subgraph shadows names, leaving it restores them (no chain to walk per lookup)."""

    def __init__(self, declared: set[str]):
        self.values: dict[str, _Value] = {}
        self.declared = declared  # names whose type the file states (not inferred)

    def enter(self, graph: onnx.GraphProto) -> list:
        """Add the graph's declared values; return what `leave` needs to undo that."""
        undo: list = []
        own = [(v.name, v.type) for v in [*graph.value_info, *graph.output, *graph.input]]
        own += [(t.name, t) for t in graph.initializer]
        for name, source in own:
            undo.append((name, self.values.get(name)))
            self.values[name] = _Value(source)
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


# ---------------------------------------------------------------- schemas


@dataclass(frozen=True)
class _Formal:
    name: str
    type_str: str
    variadic: bool
    single: bool
    homogeneous: bool


@dataclass(frozen=True)
class _Schema:
    """What the checks need of an `OpSchema`, read once per (op, domain, opset)."""

    name: str
    since: int
    attributes: Mapping[str, int]  # name → AttributeProto type
    required: tuple[str, ...]
    inputs: tuple[_Formal, ...]
    outputs: tuple[_Formal, ...]
    input_range: tuple[int, int]
    output_range: tuple[int, int]
    allowed: Mapping[str, frozenset[str]]  # type variable → allowed type strings
    singles: tuple[int, ...]  # positions of the inputs that must not be empty


@functools.lru_cache(maxsize=4096)
def schema_of(op_type: str, domain: str, opset: int) -> _Schema | None:
    """The schema onnx.defs has for the op at `opset`; None if unknown or deprecated."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return None
    if schema.deprecated:
        return None

    def formals(params) -> tuple[_Formal, ...]:
        return tuple(
            _Formal(
                p.name, p.type_str, p.option == _VARIADIC, p.option == _SINGLE, p.is_homogeneous
            )
            for p in params
        )

    attributes = {name: int(a.type.value) for name, a in schema.attributes.items()}
    return _Schema(
        schema.name,
        schema.since_version,
        attributes,
        tuple(name for name, a in schema.attributes.items() if a.required),
        formals(schema.inputs),
        formals(schema.outputs),
        (schema.min_input, schema.max_input),
        (schema.min_output, schema.max_output),
        {c.type_param_str: frozenset(c.allowed_type_strs) for c in schema.type_constraints},
        tuple(i for i, p in enumerate(schema.inputs) if p.option == _SINGLE),
    )


def node_problems(node: onnx.NodeProto, opsets: Mapping[str, int], scope: _Scope) -> list[str]:
    """The problems of one node against its schema (none for ops without one), each
    worded to follow the node's label (`": expected …"`, `" body: expected …"`)."""
    domain = node.domain
    domain = "" if domain == "ai.onnx" else domain
    opset = opsets.get(domain)
    schema = schema_of(node.op_type, domain, opset) if opset else None
    if schema is None:
        return []
    problems = attribute_problems(node, schema) + count_problems(node, schema)
    problems += type_problems(node, schema, scope)
    if not problems and domain == "" and node.op_type in _SIGNATURES:
        problems += _SIGNATURES[node.op_type](node, schema, scope)
    return problems


def _listing(names, limit: int = 6) -> str:
    names = list(names)
    head = ", ".join(names[:limit])
    return head + (f" and {len(names) - limit} more" if len(names) > limit else "")


def attribute_problems(node: onnx.NodeProto, schema: _Schema) -> list[str]:
    """Unknown attributes, attributes of the wrong type, missing required ones."""
    problems, given, known = [], [], schema.attributes
    for attr in node.attribute:
        name = attr.name
        given.append(name)
        expected = known.get(name)
        if expected is not None and attr.type != expected:
            problems.append(
                f": attribute {name!r}: expected type {_A.AttributeType.Name(expected)}, "
                f"found {_A.AttributeType.Name(attr.type)}"
            )
    unknown = [name for name in given if name not in known]
    if unknown:
        what = (
            f"the unknown attribute {unknown[0]!r}"
            if len(unknown) == 1
            else f"{len(unknown)} unknown ones: {_listing(unknown)}"
        )
        defined = _listing(sorted(known)) or "none"
        problems.insert(
            0, f": expected only the attributes {schema.name} defines ({defined}), found {what}"
        )
    missing = [name for name in schema.required if name not in given]
    if missing:
        problems.append(f": expected the required attribute(s) {_listing(missing)}, found none")
    return problems


def _bounds(low: int, high: int) -> str:
    if high >= _UNBOUNDED:
        return f"at least {low}"
    return str(low) if low == high else f"{low} to {high}"


def count_problems(node: onnx.NodeProto, schema: _Schema) -> list[str]:
    """Input and output counts outside the schema's bounds; empty required inputs."""
    problems = []
    inputs = node.input
    for kind, count, (low, high) in (
        ("inputs", len(inputs), schema.input_range),
        ("outputs", len(node.output), schema.output_range),
    ):
        if not low <= count <= high:
            problems.append(f": expected {_bounds(low, high)} {kind}, found {count}")
    for index in schema.singles:
        if index < len(inputs) and not inputs[index]:
            problems.append(
                f": input {index} ({schema.inputs[index].name}): expected a value, found an "
                "empty name"
            )
    return problems


def _formal(formals: tuple[_Formal, ...], index: int) -> _Formal | None:
    """The formal parameter the `index`-th actual value binds to."""
    if index < len(formals):
        return formals[index]
    return formals[-1] if formals and formals[-1].variadic else None


def _one_of(allowed: frozenset[str], limit: int = 6) -> str:
    names = sorted(allowed)
    if len(names) == 1:
        return names[0]
    shown = ", ".join(names[:limit])
    return f"one of {shown}" + (f" ({len(names)} types)" if len(names) > limit else "")


def type_problems(node: onnx.NodeProto, schema: _Schema, scope: _Scope) -> list[str]:
    """Values whose type their constraint does not allow, or that disagree with an
    earlier value bound to the same type variable (outputs only when the inputs agree:
    their types follow from the inputs')."""
    problems: list[str] = []
    bound: dict[str, tuple] = {}  # type variable → (type, kind, index, name, formal)
    type_of, allowed_types = scope.type_of, schema.allowed
    for kind, values, formals in (
        ("input", node.input, schema.inputs),
        ("output", node.output, schema.outputs),
    ):
        if problems:
            break
        for index, name in enumerate(values):
            if kind == "output" and name not in scope.declared:
                continue  # an inferred output type is onnx's conclusion, not the file's
            actual = type_of(name) if name else None
            formal = _formal(formals, index) if actual is not None else None
            if formal is None:
                continue
            variable = formal.type_str
            allowed = allowed_types.get(variable)
            if allowed is None:  # a literal type, e.g. tensor(int64)
                if "(" in variable and actual != variable:
                    problems.append(
                        f": {_where(kind, index, name, formal)}: expected {variable}, "
                        f"found {actual}"
                    )
            elif actual not in allowed:
                problems.append(
                    f": {_where(kind, index, name, formal)}: expected {_one_of(allowed)} "
                    f"(type {variable}), found {actual}"
                )
            elif formal.homogeneous:
                first = bound.setdefault(variable, (actual, kind, index, name, formal))
                if first[0] != actual:
                    problems.append(
                        f": {_where(kind, index, name, formal)}: expected {first[0]} like "
                        f"{_where(*first[1:])} (both type {variable}), found {actual}"
                    )
    return problems


def _where(kind: str, index: int, name: str, formal: _Formal) -> str:
    return f"{kind} {index} {name!r} ({formal.name})"


# ---------------------------------------------------------------- op signatures


def _graph_attributes(node: onnx.NodeProto) -> dict[str, onnx.GraphProto]:
    return {a.name: a.g for a in node.attribute if a.type == _A.GRAPH}


def _count_mismatch(
    where: str, graph: onnx.GraphProto, inputs: int, outputs: int, why: tuple[str, str] = ("", "")
) -> list[str]:
    problems = []
    for kind, values, expected, reason in (
        ("inputs", graph.input, inputs, why[0]),
        ("outputs", graph.output, outputs, why[1]),
    ):
        if len(values) != expected:
            problems.append(f"{where}: expected {expected} {kind}{reason}, found {len(values)}")
    return problems


def _declared(value: onnx.ValueInfoProto) -> str | None:
    return type_text(value.type)


def _type_mismatches(where: str, pairs) -> list[str]:
    """`pairs` of (what, subgraph value, expected type or None, whose type that is),
    compared where both types are known."""
    problems = []
    for what, value, expected, whose in pairs:
        mine = _declared(value)
        if mine is not None and expected is not None and mine != expected:
            problems.append(
                f"{where} {what} {value.name!r}: expected {expected} like {whose}, found {mine}"
            )
    return problems


def _matching(what: str, value, name: str, whose: str, scope: _Scope):
    """A pair for `_type_mismatches`: subgraph `value` must have the type of the node's
    value `name` (nothing to compare for an omitted one)."""
    expected = scope.type_of(name) if name else None
    return what, value, expected, f"{whose} {name!r}"


def loop_problems(node: onnx.NodeProto, schema: _Schema, scope: _Scope) -> list[str]:
    """A Loop body takes (iteration number, condition, N loop-carried values) and
    returns (condition, N loop-carried values, K scan outputs), the Loop's N + K."""
    body = _graph_attributes(node).get("body")
    if body is None:
        return []
    carried = max(len(node.input) - 2, 0)
    why = (
        f" (iteration number, condition and {carried} loop-carried value(s), as the Loop has)",
        f" (condition, then one per Loop output: {len(node.output)})",
    )
    problems = _count_mismatch(" body", body, 2 + carried, 1 + len(node.output), why)
    if problems:
        return problems
    pairs = [
        ("input 0", body.input[0], "tensor(int64)", "the iteration number"),
        ("input 1", body.input[1], "tensor(bool)", "the condition"),
        ("output 0", body.output[0], "tensor(bool)", "the condition"),
    ]
    pairs += [
        _matching(f"input {2 + i}", body.input[2 + i], node.input[2 + i], "the Loop's input", scope)
        for i in range(carried)
    ]
    pairs += [
        _matching(f"output {1 + j}", body.output[1 + j], name, "the Loop's output", scope)
        for j, name in enumerate(node.output)
    ]
    return _type_mismatches(" body", pairs)


def scan_problems(node: onnx.NodeProto, schema: _Schema, scope: _Scope) -> list[str]:
    """A Scan body takes one value per Scan input (states, then scanned slices; Scan-8
    has a leading sequence_lens input) and returns one per Scan output."""
    body = _graph_attributes(node).get("body")
    if body is None:
        return []
    offset = 1 if schema.since < 9 else 0
    inputs = max(len(node.input) - offset, 0)
    why = (" (as the Scan has)", " (as the Scan has)")
    problems = _count_mismatch(" body", body, inputs, len(node.output), why)
    scanned = next((a.i for a in node.attribute if a.name == "num_scan_inputs"), 0)
    if scanned > inputs:
        problems.append(
            f": attribute 'num_scan_inputs': expected at most {inputs} (the Scan's inputs), "
            f"found {scanned}"
        )
    if problems:
        return problems
    pairs = [
        _matching(f"input {i}", body.input[i], node.input[offset + i], "the Scan's input", scope)
        for i in range(inputs)
    ]
    pairs += [
        _matching(f"output {j}", body.output[j], name, "the Scan's output", scope)
        for j, name in enumerate(node.output)
    ]
    return _type_mismatches(" body", pairs)


def if_problems(node: onnx.NodeProto, schema: _Schema, scope: _Scope) -> list[str]:
    """Both branches return one value per If output, of the same types."""
    graphs = _graph_attributes(node)
    branches = [(name, graphs[name]) for name in ("then_branch", "else_branch") if name in graphs]
    problems = [
        f" {name}: expected {len(node.output)} outputs (as the If has), found {len(branch.output)}"
        for name, branch in branches
        if len(branch.output) != len(node.output)
    ]
    if problems or len(branches) != 2:
        return problems
    then, other = branches[0][1].output, branches[1][1].output
    pairs = [
        (f"output {i}", b, _declared(a), f"then_branch's {a.name!r}")
        for i, (a, b) in enumerate(zip(then, other))
    ]
    return _type_mismatches(" else_branch", pairs)


def sequence_map_problems(node: onnx.NodeProto, schema: _Schema, scope: _Scope) -> list[str]:
    """A SequenceMap body takes one value per input and returns one per output."""
    body = _graph_attributes(node).get("body")
    if body is None:
        return []
    why = (" (as the SequenceMap has)", " (as the SequenceMap has)")
    return _count_mismatch(" body", body, len(node.input), len(node.output), why)


def conv_problems(node: onnx.NodeProto, schema: _Schema, scope: _Scope) -> list[str]:
    """Input and weight of one rank r >= 3, spatial attributes of r - 2 values (pads
    2 (r - 2)), kernel_shape matching the weight, channels matching the group."""
    weight_at = _CONVS[node.op_type]
    if len(node.input) <= weight_at:
        return []
    x, w = node.input[0], node.input[weight_at]
    x_shape, w_shape = scope.shape_of(x), scope.shape_of(w)
    problems = []
    if x_shape is not None and w_shape is not None and len(x_shape) != len(w_shape):
        problems.append(
            f": weight {w!r}: expected rank {len(x_shape)} like input {x!r} "
            f"{list(x_shape)}, found rank {len(w_shape)} {list(w_shape)}"
        )
    rank = len(x_shape) if x_shape is not None else len(w_shape) if w_shape is not None else None
    if rank is None:
        return problems
    if rank < 3:
        which = f"input {x!r}" if x_shape is not None else f"weight {w!r}"
        return [*problems, f": {which}: expected rank 3 or more, found rank {rank}"]
    attrs = {a.name: list(a.ints) for a in node.attribute if a.type == _A.INTS}
    spatial = rank - 2
    for name, per_dim in _CONV_LENGTHS:
        if name in attrs and len(attrs[name]) != per_dim * spatial:
            problems.append(
                f": attribute {name!r}: expected {per_dim * spatial} values for {spatial} "
                f"spatial dims, found {len(attrs[name])} {attrs[name]}"
            )
    if not problems and w_shape is not None:
        problems += _conv_dims(node, attrs.get("kernel_shape"), x_shape, w_shape)
    return problems


_CONV_LENGTHS = (
    ("kernel_shape", 1),
    ("strides", 1),
    ("dilations", 1),
    ("pads", 2),
    ("output_padding", 1),
)


def _conv_dims(node: onnx.NodeProto, kernel, x_shape, w_shape) -> list[str]:
    """kernel_shape against the weight's spatial dims; input channels against the
    weight's (times group for Conv); known dims only."""
    problems = []
    if kernel is not None and all(map(_positive, w_shape[2:])) and kernel != list(w_shape[2:]):
        problems.append(
            f": attribute 'kernel_shape': expected {list(w_shape[2:])} like the weight "
            f"{node.input[_CONVS[node.op_type]]!r}, found {kernel}"
        )
    group = next((a.i for a in node.attribute if a.name == "group"), 1)
    channels = x_shape[1] if x_shape is not None else None
    if node.op_type == "ConvTranspose":
        expected, source = w_shape[0], "first dim"
    else:
        expected = w_shape[1] * group if w_shape[1] is not None else None
        source = "second dim × group"
    if _positive(channels) and _positive(expected) and channels != expected:
        problems.append(
            f": input {node.input[0]!r}: expected {expected} channels (the weight's {source}), "
            f"found {channels}"
        )
    return problems


def _positive(dim) -> bool:
    """A known size (some exporters write 0 for an unknown one)."""
    return dim is not None and dim > 0


_SIGNATURES = {
    "Loop": loop_problems,
    "Scan": scan_problems,
    "If": if_problems,
    "SequenceMap": sequence_map_problems,
    **dict.fromkeys(_CONVS, conv_problems),
}
"""Checks beyond the schema's tables, by op type (default domain)."""
