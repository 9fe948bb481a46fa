"""The shared helper of the op tests: one-node ONNX models, run by axonnx and by onnx's
reference evaluator, and the comparison of their outputs (the `one_node` fixture)."""

from __future__ import annotations

import jax
import numpy as np
import onnx
import pytest
from onnx import helper as oh
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from axonnx.converters.backend import AxonnxRep


class OneNode:
    """Builds, runs and compares one-node models; tests get it as the `one_node` fixture."""

    @staticmethod
    def model(
        node: onnx.NodeProto,
        inputs: dict,
        opset: int,
        constants: dict | None = None,
        *,
        domains: dict[str, int] | None = None,
    ) -> onnx.ModelProto:
        """A model of `node` alone: graph inputs typed from the arrays `inputs`, initializers
        from `constants`, untyped outputs; `domains` adds opsets (the node's own domain at
        version 1 unless given)."""
        values = [
            oh.make_tensor_value_info(n, oh.np_dtype_to_tensor_dtype(v.dtype), v.shape)
            for n, v in inputs.items()
        ]
        initializers = [numpy_helper.from_array(v, n) for n, v in (constants or {}).items()]
        outputs = [oh.make_empty_tensor_value_info(o) for o in node.output if o]
        graph = oh.make_graph([node], "one_node", values, outputs, initializers)
        domains = dict(domains or {})
        if node.domain:
            domains.setdefault(node.domain, 1)
        opsets = [oh.make_opsetid("", opset)] + [oh.make_opsetid(d, v) for d, v in domains.items()]
        return oh.make_model(graph, opset_imports=opsets)

    @staticmethod
    def run(model: onnx.ModelProto, inputs: dict) -> list[np.ndarray]:
        """axonnx's outputs of `model`, with 64-bit types on."""
        with jax.enable_x64(True), jax.numpy_rank_promotion("allow"):
            return list(AxonnxRep(model).run(dict(inputs)))

    @staticmethod
    def reference(model: onnx.ModelProto, inputs: dict) -> list[np.ndarray]:
        """onnx's reference evaluator's outputs of `model`."""
        return [np.asarray(v) for v in ReferenceEvaluator(model).run(None, dict(inputs))]

    def run_node(self, node, inputs: dict, opset: int, constants: dict | None = None) -> list:
        """axonnx's outputs of the one-node model of `node`."""
        return self.run(self.model(node, inputs, opset, constants), inputs)

    def reference_node(self, node, inputs: dict, opset: int, constants: dict | None = None):
        """The reference evaluator's outputs of the one-node model of `node`."""
        return self.reference(self.model(node, inputs, opset, constants), inputs)

    @staticmethod
    def compare(actual: list, expected: list, *, rtol: float = 1e-6, atol: float = 1e-7) -> None:
        """Same count, shapes and dtypes; strings equal, numbers close (in float64)."""
        assert len(actual) == len(expected)
        for got, want in zip(actual, expected, strict=True):
            got, want = np.asarray(got), np.asarray(want)
            assert got.shape == want.shape, (got.shape, want.shape)
            if want.dtype.kind != "U":  # onnx's evaluator may return NumPy strings
                assert got.dtype == want.dtype, (got.dtype, want.dtype)
            if want.dtype.kind in "OU":
                np.testing.assert_array_equal(got.astype(str), want.astype(str))
                continue
            if want.dtype.kind not in "biuc":  # floats, float8 and bfloat16 included
                got, want = got.astype(np.float64), want.astype(np.float64)
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)

    def assert_same(
        self, node, inputs: dict, opset: int, constants: dict | None = None, **tolerance
    ) -> None:
        """axonnx's outputs of `node` equal the reference evaluator's (see `compare`)."""
        model = self.model(node, inputs, opset, constants)
        self.compare(self.run(model, inputs), self.reference(model, inputs), **tolerance)


@pytest.fixture
def one_node() -> OneNode:
    """The one-node model helper."""
    return OneNode()
