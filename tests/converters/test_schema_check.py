"""Nodes checked against their ONNX schemas: `axonnx import` refuses bad files with one
line naming the node, what was expected and what was found, and writes nothing."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.cli.main import main
from axonnx.converters.schema_check import schema_problems
from axonnx.errors import InvalidModelError

FLOAT, INT64, BOOL, STRING = (
    TensorProto.FLOAT,
    TensorProto.INT64,
    TensorProto.BOOL,
    TensorProto.STRING,
)
value = helper.make_tensor_value_info


def _model(nodes, inputs, outputs, initializers=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _refused(tmp_path, model: onnx.ModelProto, *fragments: str) -> str:
    """Import `model` with the CLI; assert exit 2, one line holding every fragment, and
    no output file. Returns the line."""
    path, out = tmp_path / "bad.onnx", tmp_path / "out.axonnx"
    onnx.save(model, path)
    result = CliRunner().invoke(main, ["import", str(path), "-o", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not out.exists()
    return lines[0]


def _relu(**attributes) -> onnx.ModelProto:
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    node.attribute.extend(helper.make_attribute(k, v) for k, v in attributes.items())
    return _model([node], [value("x", FLOAT, [2])], [value("y", FLOAT, [2])])


def test_unknown_attributes_are_refused(tmp_path):
    model = _relu(**{f"junk{i}": i for i in range(1000)})
    line = _refused(
        tmp_path, model, "node 'relu' (Relu)", "expected only the attributes Relu defines"
    )
    assert "found 1000 unknown ones: junk0, junk1" in line
    assert len(line) < 400  # the names are summarised, not all listed


def test_mismatched_input_types_are_refused(tmp_path):
    add = helper.make_node("Add", ["a", "b"], ["c"], name="add")
    model = _model(
        [add], [value("a", FLOAT, [2]), value("b", INT64, [2])], [value("c", FLOAT, [2])]
    )
    _refused(tmp_path, model, "node 'add' (Add)", "expected tensor(float)", "found tensor(int64)")


def test_where_with_a_string_and_a_float_branch_is_refused(tmp_path):
    where = helper.make_node("Where", ["c", "s", "f"], ["y"], name="pick")
    inputs = [value("c", BOOL, [2]), value("s", STRING, [2]), value("f", FLOAT, [2])]
    model = _model([where], inputs, [value("y", FLOAT, [2])])
    _refused(
        tmp_path, model, "node 'pick' (Where)", "expected tensor(string)", "found tensor(float)"
    )


def test_mismatch_of_an_intermediate_value_is_found_through_inference(tmp_path):
    nodes = [
        helper.make_node("Cast", ["a"], ["a64"], name="cast", to=INT64),
        helper.make_node("Mul", ["x", "a64"], ["y"], name="mul"),
    ]
    model = _model(
        nodes, [value("a", FLOAT, [2]), value("x", FLOAT, [2])], [value("y", FLOAT, [2])]
    )
    _refused(tmp_path, model, "node 'mul' (Mul)", "'a64'", "found tensor(int64)")


def test_graph_input_without_a_type_is_refused(tmp_path):
    untyped = onnx.ValueInfoProto(name="x")
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [untyped], [value("y", FLOAT, [2])])
    _refused(tmp_path, model, "graph input 'x'", "expected a type", "found none")


def _loop(body: onnx.GraphProto) -> onnx.ModelProto:
    loop = helper.make_node("Loop", ["n", "go", "v0"], ["v"], name="loop", body=body)
    inputs = [value("n", INT64, []), value("go", BOOL, []), value("v0", FLOAT, [2])]
    return _model([loop], inputs, [value("v", FLOAT, [2])])


def test_loop_body_with_too_few_inputs_is_refused(tmp_path):
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c_out"]), helper.make_node("Neg", ["c"], ["v"])],
        "body",
        [value("i", INT64, []), value("c", BOOL, [])],
        [value("c_out", BOOL, []), value("v", FLOAT, [2])],
    )
    _refused(tmp_path, _loop(body), "node 'loop' (Loop) body", "expected 3 inputs", "found 2")


def test_loop_body_of_the_wrong_type_is_refused(tmp_path):
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c_out"]), helper.make_node("Neg", ["s"], ["s_out"])],
        "body",
        [value("i", INT64, []), value("c", BOOL, []), value("s", INT64, [2])],
        [value("c_out", BOOL, []), value("s_out", INT64, [2])],
    )
    _refused(
        tmp_path,
        _loop(body),
        "node 'loop' (Loop) body input 2 's'",
        "expected tensor(float) like the Loop's input 'v0'",
        "found tensor(int64)",
    )


def _conv(weight_shape, **attributes) -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.zeros(weight_shape, np.float32), "w")
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attributes)
    return _model([conv], [value("x", FLOAT, [1, 3, 8, 8])], [value("y", FLOAT, None)], [weight])


def test_conv_weight_of_the_wrong_rank_is_refused(tmp_path):
    _refused(tmp_path, _conv((4, 3, 3)), "node 'conv' (Conv)", "expected rank 4", "found rank 3")


@pytest.mark.parametrize(
    ("attribute", "values", "expected"),
    [
        ("kernel_shape", [3], "expected 2 values"),
        ("strides", [1, 1, 1], "expected 2 values"),
        ("pads", [1, 1], "expected 4 values"),
    ],
)
def test_conv_attributes_of_the_wrong_length_are_refused(tmp_path, attribute, values, expected):
    model = _conv((4, 3, 3, 3), **{attribute: values})
    _refused(
        tmp_path,
        model,
        "node 'conv' (Conv)",
        f"attribute {attribute!r}",
        expected,
        f"found {len(values)}",
    )


def test_every_problem_is_reported_at_once(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu", junk=1),
        helper.make_node("Add", ["r", "i"], ["s"], name="add"),
        helper.make_node("Conv", ["x", "w"], ["y"], name="conv", strides=[1]),
    ]
    weight = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    inputs = [value("x", FLOAT, [1, 3, 8, 8]), value("i", INT64, [1])]
    outputs = [value("s", FLOAT, None), value("y", FLOAT, None)]
    model = _model(nodes, inputs, outputs, [weight])
    line = _refused(
        tmp_path,
        model,
        "3 problems",
        "node 'relu' (Relu)",
        "node 'add' (Add)",
        "node 'conv' (Conv)",
    )
    assert line.index("'relu'") < line.index("'add'") < line.index("'conv'")


def test_problems_in_subgraphs_name_their_path():
    inner = helper.make_node("Add", ["a", "k"], ["b"], name="inner")
    branch = helper.make_graph([inner], "then", [], [value("b", FLOAT, [1])])
    other = helper.make_graph(
        [helper.make_node("Identity", ["a"], ["e"])], "else", [], [value("e", FLOAT, [1])]
    )
    node = helper.make_node("If", ["c"], ["y"], name="if", then_branch=branch, else_branch=other)
    inputs = [value("c", BOOL, []), value("a", FLOAT, [1]), value("k", INT64, [1])]
    model = _model([node], inputs, [value("y", FLOAT, [1])])
    with pytest.raises(InvalidModelError, match="node 'if' \\(If\\) then_branch: node 'inner'"):
        ax.import_onnx(model)


def test_ops_without_a_schema_are_not_checked():
    node = helper.make_node("FusedThing", ["x"], ["y"], domain="com.microsoft", junk=1)
    model = _model([node], [value("x", FLOAT, [2])], [value("y", FLOAT, [2])])
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    assert schema_problems(model) == []


def test_valid_model_with_a_loop_has_no_problems():
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c_out"]), helper.make_node("Neg", ["s"], ["s_out"])],
        "body",
        [value("i", INT64, []), value("c", BOOL, []), value("s", FLOAT, [2])],
        [value("c_out", BOOL, []), value("s_out", FLOAT, [2])],
    )
    assert schema_problems(_loop(body)) == []
