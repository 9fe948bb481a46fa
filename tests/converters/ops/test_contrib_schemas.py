"""The contrib op schemas axonnx registers with onnx.defs are onnxruntime's own (inputs,
outputs, type constraints, attributes and defaults), and registering them keeps onnx's
reference evaluator working."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx.reference import ReferenceEvaluator
from onnxruntime.capi import onnxruntime_pybind11_state as ort_c

from axonnx.converters.ops import contrib_schemas

ENTRIES = contrib_schemas._entries()
ORT = {
    (s.domain, s.name): s
    for s in ort_c.get_all_operator_schema()
    if s.since_version == 1 and s.domain in ("", "com.microsoft")
}


def _params(params):
    return [
        (p.name, p.type_str if hasattr(p, "type_str") else p.typeStr, int(p.option)) for p in params
    ]


def _ort_default(attribute):
    if not attribute._default_value:
        return None
    value = onnx.AttributeProto.FromString(attribute._default_value)
    return onnx.helper.get_attribute_value(value) if value.type else None


@pytest.mark.parametrize("entry", ENTRIES, ids=[e[1] for e in ENTRIES])
def test_schema_is_onnxruntimes(entry):
    domain, op_type, _ = entry
    ours, theirs = onnx.defs.get_schema(op_type, 1, domain), ORT[(domain, op_type)]
    assert ours.since_version == 1
    assert _params(ours.inputs) == _params(theirs.inputs)
    assert _params(ours.outputs) == _params(theirs.outputs)
    assert {c.type_param_str: set(c.allowed_type_strs) for c in ours.type_constraints} == {
        c.type_param_str: set(c.allowed_type_strs) for c in theirs.type_constraints
    }
    assert set(ours.attributes) == set(theirs.attributes)
    for name, attribute in ours.attributes.items():
        other = theirs.attributes[name]
        assert int(attribute.type) == int(other.type), name
        assert attribute.required == other.required, name
        default = attribute.default_value
        mine = onnx.helper.get_attribute_value(default) if default.type else None
        expected = _ort_default(other)
        if isinstance(expected, float):
            expected = pytest.approx(expected, rel=1e-6)
        assert mine == expected, name


def test_reference_evaluator_still_imports_and_runs():
    node = onnx.helper.make_node("Gelu", ["x"], ["y"])
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])
    y = onnx.helper.make_empty_tensor_value_info("y")
    model = onnx.helper.make_model(onnx.helper.make_graph([node], "g", [x], [y]))
    (out,) = ReferenceEvaluator(model).run(None, {"x": np.array([0.0, 1.0], np.float32)})
    np.testing.assert_allclose(out, [0.0, 0.8413447], rtol=1e-6)
