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

from collections.abc import Iterator, Mapping

import onnx

from axonnx.converters.op_schemas import Formal, Schema, schema_of
from axonnx.converters.safety_graphs import node_label
from axonnx.converters.schema_signatures import SIGNATURES
from axonnx.converters.schema_values import Scope, has_type, typed_copy
from axonnx.errors import InvalidModelError

__all__ = ["check_schemas", "describe_problems", "schema_problems"]

_A = onnx.AttributeProto
_SHOWN = 20  # problems listed in the message (all are counted)
_UNBOUNDED = 2**31 - 1


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
    scope = Scope(_declared_names(proto.graph))
    stack: list[tuple[onnx.GraphProto, str] | list] = [(typed_copy(proto).graph, "")]
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
        names.update(v.name for v in [*g.value_info, *g.output] if has_type(v.type))
        stack.extend(sub for node in g.node for _, sub in _subgraphs(node))
    return names


def untyped_inputs(graph: onnx.GraphProto) -> list[str]:
    """A problem for each graph input that declares no type (inputs that are also
    initializers take the initializer's type)."""
    initialized = {t.name for t in graph.initializer}
    initialized |= {s.values.name for s in graph.sparse_initializer}
    return [
        f"graph input {value.name!r}: expected a type (a tensor element type), found none"
        for value in graph.input
        if value.name not in initialized and not has_type(value.type)
    ]


def _subgraphs(node: onnx.NodeProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    for attr in node.attribute:
        if attr.type == _A.GRAPH:
            yield attr.name, attr.g
        elif attr.type == _A.GRAPHS:
            yield from ((f"{attr.name}[{i}]", g) for i, g in enumerate(attr.graphs))


def node_problems(node: onnx.NodeProto, opsets: Mapping[str, int], scope: Scope) -> list[str]:
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
    if not problems and domain == "" and node.op_type in SIGNATURES:
        problems += SIGNATURES[node.op_type](node, schema, scope)
    return problems


def _listing(names, limit: int = 6) -> str:
    names = list(names)
    head = ", ".join(names[:limit])
    return head + (f" and {len(names) - limit} more" if len(names) > limit else "")


def attribute_problems(node: onnx.NodeProto, schema: Schema) -> list[str]:
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


def count_problems(node: onnx.NodeProto, schema: Schema) -> list[str]:
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


def _formal(formals: tuple[Formal, ...], index: int) -> Formal | None:
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


def type_problems(node: onnx.NodeProto, schema: Schema, scope: Scope) -> list[str]:
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


def _where(kind: str, index: int, name: str, formal: Formal) -> str:
    return f"{kind} {index} {name!r} ({formal.name})"
