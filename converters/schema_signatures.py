"""Checks beyond the schema tables: Loop, Scan, If and SequenceMap bodies against the
node's signature, and the ranks and dims of convolutions."""

from __future__ import annotations

import onnx

from axonnx.converters.op_schemas import Schema
from axonnx.converters.schema_values import Scope, type_text

_A = onnx.AttributeProto
__all__ = ["SIGNATURES"]

_CONVS = {"Conv": 1, "ConvInteger": 1, "ConvTranspose": 1, "QLinearConv": 3}


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


def _matching(what: str, value, name: str, whose: str, scope: Scope):
    """A pair for `_type_mismatches`: subgraph `value` must have the type of the node's
    value `name` (nothing to compare for an omitted one)."""
    expected = scope.type_of(name) if name else None
    return what, value, expected, f"{whose} {name!r}"


def loop_problems(node: onnx.NodeProto, schema: Schema, scope: Scope) -> list[str]:
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


def scan_problems(node: onnx.NodeProto, schema: Schema, scope: Scope) -> list[str]:
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


def if_problems(node: onnx.NodeProto, schema: Schema, scope: Scope) -> list[str]:
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


def sequence_map_problems(node: onnx.NodeProto, schema: Schema, scope: Scope) -> list[str]:
    """A SequenceMap body takes one value per input and returns one per output."""
    body = _graph_attributes(node).get("body")
    if body is None:
        return []
    why = (" (as the SequenceMap has)", " (as the SequenceMap has)")
    return _count_mismatch(" body", body, len(node.input), len(node.output), why)


def conv_problems(node: onnx.NodeProto, schema: Schema, scope: Scope) -> list[str]:
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


SIGNATURES = {
    "Loop": loop_problems,
    "Scan": scan_problems,
    "If": if_problems,
    "SequenceMap": sequence_map_problems,
    **dict.fromkeys(_CONVS, conv_problems),
}
"""Checks beyond the schema's tables, by op type (default domain)."""
