"""axonnx as an ONNX backend (`onnx.backend.base.Backend`), so onnx's own test runner
and the public ONNX backend scoreboard can run it."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

from axonnx.converters.onnx_import import import_onnx
from axonnx.engine import predict

__all__ = ["AxonnxBackend", "AxonnxRep", "prepare", "run_model", "run_node", "supports_device"]


class AxonnxRep(BackendRep):
    """A prepared model: imported once, jit-compiled per distinct input shape.

    ONNX's int64/float64 types need JAX's 64-bit mode, and its float32 ops float32
    arithmetic (JAX's default matmul precision may use bfloat16 passes): the backend
    imports and runs a model with 64-bit mode on and the highest matmul precision.
    """

    def __init__(self, model: onnx.ModelProto):
        with jax.enable_x64(True):
            self.graph_model, self.state = import_onnx(model)
        self.input_names = [
            i.name
            for i in model.graph.input
            if i.name not in {t.name for t in model.graph.initializer}
        ]
        self.output_names = list(self.graph_model.meta["onnx_outputs"])

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        """Run on inputs given as a list (graph input order) or a dict by name."""
        if not isinstance(inputs, dict):
            inputs = dict(zip(self.input_names, inputs, strict=False))
        with jax.enable_x64(True), jax.default_matmul_precision("highest"):
            outputs = predict(self.graph_model, self.state, inputs)
        return tuple(_to_numpy(outputs[name]) for name in self.output_names)


def _to_numpy(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_to_numpy(v) for v in value]
    return np.asarray(value)


class AxonnxBackend(Backend):
    """The ONNX backend interface over `import_onnx` and `jax.jit`."""

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> AxonnxRep:
        """Import and compile `model`."""
        super().prepare(model, device, **kwargs)
        return AxonnxRep(model)

    @classmethod
    def run_model(
        cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any
    ) -> tuple:
        """Import, compile and run `model` once."""
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node: onnx.NodeProto,
        inputs: Any,
        device: str = "CPU",
        outputs_info=None,
        **kwargs: Any,
    ) -> tuple:
        """Run one node by wrapping it in a model of the newest opset."""
        graph_inputs = [
            onnx.helper.make_tensor_value_info(
                name, onnx.helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype), np.shape(v)
            )
            for name, v in zip(node.input, inputs, strict=False)
        ]
        graph_outputs = [onnx.helper.make_empty_tensor_value_info(o) for o in node.output]
        graph = onnx.helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        model = onnx.helper.make_model(graph)
        return cls.run_model(model, list(inputs), device)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        """CPU always; CUDA when JAX sees a GPU."""
        kind = Device(device).type
        if kind == DeviceType.CPU:
            return True
        return kind == DeviceType.CUDA and any(d.platform == "gpu" for d in jax.devices())


prepare = AxonnxBackend.prepare
run_model = AxonnxBackend.run_model
run_node = AxonnxBackend.run_node
supports_device = AxonnxBackend.supports_device
