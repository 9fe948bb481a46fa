"""A corpus of bad and hostile model files, built from code into a folder.

Each case is a file that axonnx must refuse with a given error class and a message
fragment, never with a crash, a hang, a huge allocation or a read outside the model's
folder. `build_corpus(folder)` writes them all and returns the cases.

    python -m tests.reliability.corpus /tmp/corpus     # write the files to look at
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from axonnx.errors import (
    AxonnxError,
    InvalidModelError,
    ResourceLimitError,
    UnsafeFileError,
    UnsupportedOpError,
)

__all__ = ["Case", "build_corpus", "case_names"]

HUGE = 10**12


@dataclass(frozen=True)
class Case:
    """One bad file: where it is, what kind (`onnx`, `axonnx`, `checkpoint`), and the
    error class and message fragment axonnx must answer with."""

    name: str
    path: Path
    kind: str
    error: type[AxonnxError]
    fragment: str


_BUILDERS: list[tuple[str, str, type[AxonnxError], str, Callable]] = []


def _case(kind: str, error: type[AxonnxError], fragment: str):
    def register(make: Callable) -> Callable:
        _BUILDERS.append((make.__name__, kind, error, fragment, make))
        return make

    return register


# ---------------------------------------------------------------- a valid base model

W = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
B = np.ones(4, np.float32)


def base_graph(initializers=None, nodes=None, inputs=None, outputs=None) -> onnx.GraphProto:
    """x (2, 3) → MatMul(w) → Add(b) → Relu → y (2, 4)."""
    return helper.make_graph(
        nodes
        if nodes is not None
        else [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="matmul"),
            helper.make_node("Add", ["h", "b"], ["a"], name="add"),
            helper.make_node("Relu", ["a"], ["y"], name="relu"),
        ],
        "base",
        inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        outputs or [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        initializers
        if initializers is not None
        else [numpy_helper.from_array(W, "w"), numpy_helper.from_array(B, "b")],
    )


def base_model(graph: onnx.GraphProto | None = None, opset: int = 17) -> onnx.ModelProto:
    """The base graph (or `graph`) as a model at `opset`, IR version 8."""
    return helper.make_model(
        graph or base_graph(), opset_imports=[helper.make_opsetid("", opset)], ir_version=8
    )


def _external(name: str, dims, location: str, **fields: str) -> TensorProto:
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, **fields}.items():
        tensor.external_data.add(key=key, value=value)
    return tensor


def _with_external_w(location: str, dims=(3, 4), **fields: str) -> onnx.ModelProto:
    w = _external("w", list(dims), location, **fields)
    return base_model(base_graph([w, numpy_helper.from_array(B, "b")]))


# ---------------------------------------------------------------- external data


@_case("onnx", UnsafeFileError, "leads out of the model's folder ('..')")
def external_dotdot(folder: Path):
    return _with_external_w("../outside/secret.bin", length="48")


@_case("onnx", UnsafeFileError, "leads out of the model's folder ('..')")
def external_dotdot_inside_path(folder: Path):
    return _with_external_w("sub/../../outside/secret.bin")


@_case("onnx", UnsafeFileError, "is an absolute path")
def external_absolute(folder: Path):
    return _with_external_w(str(folder.parent / "outside" / "secret.bin"))


@_case("onnx", UnsafeFileError, "is an absolute path")
def external_absolute_etc_passwd(folder: Path):
    return _with_external_w("/etc/passwd")


@_case("onnx", UnsafeFileError, "is an absolute path")
def external_windows_drive(folder: Path):
    return _with_external_w("C:\\Windows\\System32\\config\\SAM")


@_case("onnx", UnsafeFileError, "symbolic link leading out")
def external_symlink_out(folder: Path):
    link = folder / "link_out.bin"
    if not link.is_symlink():
        link.symlink_to(folder.parent / "outside" / "secret.bin")
    return _with_external_w("link_out.bin")


@_case("onnx", UnsafeFileError, "is not a file")
def external_directory(folder: Path):
    (folder / "a_folder").mkdir(exist_ok=True)
    return _with_external_w("a_folder")


@_case("onnx", InvalidModelError, "does not exist beside the model")
def external_missing_file(folder: Path):
    return _with_external_w("no_such_weights.bin")


@_case("onnx", UnsafeFileError, "is not a file name")
def external_empty_location(folder: Path):
    return _with_external_w("")


@_case("onnx", InvalidModelError, "lies outside weights.bin")
def external_offset_outside(folder: Path):
    return _with_external_w("weights.bin", offset="40", length="48")


@_case("onnx", InvalidModelError, "lies outside weights.bin")
def external_offset_far_outside(folder: Path):
    return _with_external_w("weights.bin", offset=str(2**62))


@_case("onnx", InvalidModelError, "does not match the 48 bytes")
def external_length_mismatch(folder: Path):
    return _with_external_w("weights.bin", length="12")


@_case("onnx", InvalidModelError, "offset must be a whole number")
def external_negative_offset(folder: Path):
    return _with_external_w("weights.bin", offset="-8")


@_case("onnx", ResourceLimitError, "more than the limit")
def external_huge_dims(folder: Path):
    return _with_external_w("weights.bin", dims=(10**6, 10**6))


# ---------------------------------------------------------------- tensors


def _with_w(tensor: TensorProto) -> onnx.ModelProto:
    return base_model(base_graph([tensor, numpy_helper.from_array(B, "b")]))


@_case("onnx", InvalidModelError, "need 48 bytes of raw data, got 20")
def raw_data_too_short(folder: Path):
    return _with_w(
        TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[3, 4], raw_data=b"0" * 20)
    )


@_case("onnx", InvalidModelError, "need 48 bytes of raw data, got 52")
def raw_data_too_long(folder: Path):
    return _with_w(
        TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[3, 4], raw_data=b"0" * 52)
    )


@_case("onnx", InvalidModelError, "need 12 values in float_data, got 5")
def typed_data_count_mismatch(folder: Path):
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[3, 4])
    tensor.float_data.extend([0.5] * 5)
    return _with_w(tensor)


@_case("onnx", ResourceLimitError, "declares 1,000,000,000,000 elements")
def huge_declared_dims(folder: Path):
    return _with_w(TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[HUGE]))


@_case("onnx", ResourceLimitError, "more than the limit")
def huge_dims_that_overflow_int64(folder: Path):
    return _with_w(TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2**40, 2**40, 16]))


@_case("onnx", ResourceLimitError, "more than the limit")
def huge_constant_attribute(folder: Path):
    value = TensorProto(name="c", data_type=TensorProto.FLOAT, dims=[10**6, 10**6])
    nodes = [
        helper.make_node("Constant", [], ["c"], value=value),
        helper.make_node("Add", ["x", "c"], ["y"]),
    ]
    return base_model(base_graph([], nodes))


@_case("onnx", ResourceLimitError, "input 'x' declares")
def huge_graph_input(folder: Path):
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [10**7, 10**7])]
    return base_model(base_graph(inputs=inputs))


@_case("onnx", InvalidModelError, "expected dims >= 0")
def negative_dims(folder: Path):
    return _with_w(TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[-3, -4]))


@_case("onnx", InvalidModelError, "unknown element type 999")
def unknown_element_type(folder: Path):
    return _with_w(TensorProto(name="w", data_type=999, dims=[3, 4], raw_data=b"0" * 48))


@_case("onnx", InvalidModelError, "string tensors cannot use raw_data")
def string_raw_data(folder: Path):
    return _with_w(TensorProto(name="w", data_type=TensorProto.STRING, dims=[1], raw_data=b"abc"))


@_case("onnx", InvalidModelError, "segmented tensors are not supported")
def segmented_tensor(folder: Path):
    tensor = numpy_helper.from_array(W, "w")
    tensor.segment.begin, tensor.segment.end = 0, 6
    return _with_w(tensor)


@_case("onnx_bytes", InvalidModelError, "the data lives in an external file")
def external_data_in_bytes(folder: Path):
    return _with_external_w("weights.bin").SerializeToString()


# ---------------------------------------------------------------- graphs


@_case("onnx", InvalidModelError, "input 'ghost' is not defined")
def undefined_input(folder: Path):
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")]
    return base_model(base_graph([], nodes, outputs=None))


@_case("onnx", InvalidModelError, "output 'y' is already defined by node 'relu'")
def duplicate_node_outputs(folder: Path):
    nodes = [
        helper.make_node("Relu", ["x"], ["y"], name="relu"),
        helper.make_node("Neg", ["x"], ["y"], name="neg"),
    ]
    return base_model(base_graph([], nodes))


@_case("onnx", InvalidModelError, "output 'x' is already defined by the graph")
def node_overwrites_graph_input(folder: Path):
    nodes = [
        helper.make_node("Relu", ["x"], ["x"], name="relu"),
        helper.make_node("Neg", ["x"], ["y"]),
    ]
    return base_model(base_graph([], nodes))


@_case("onnx", InvalidModelError, "graph output 'y' appears more than once")
def duplicate_graph_outputs(folder: Path):
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])
    return base_model(base_graph(outputs=[y, y]))


@_case("onnx", InvalidModelError, "has a cycle through node 'a'")
def cycle(folder: Path):
    nodes = [
        helper.make_node("Add", ["x", "q"], ["p"], name="a"),
        helper.make_node("Relu", ["p"], ["q"], name="b"),
        helper.make_node("Neg", ["q"], ["y"], name="c"),
    ]
    return base_model(base_graph([], nodes))


@_case("onnx", InvalidModelError, "has a cycle through node 'self'")
def self_loop(folder: Path):
    nodes = [
        helper.make_node("Add", ["x", "y"], ["y"], name="self"),
    ]
    return base_model(base_graph([], nodes))


@_case("onnx", InvalidModelError, "not in topological order")
def unsorted_nodes(folder: Path):
    nodes = [
        helper.make_node("Neg", ["p"], ["y"], name="second"),
        helper.make_node("Relu", ["x"], ["p"], name="first"),
    ]
    return base_model(base_graph([], nodes))


@_case("onnx", InvalidModelError, "an input has an empty name")
def empty_input_name(folder: Path):
    inputs = [helper.make_tensor_value_info("", TensorProto.FLOAT, [2, 3])]
    return base_model(base_graph(inputs=inputs))


@_case("onnx", InvalidModelError, "a graph output has an empty name")
def empty_output_name(folder: Path):
    outputs = [helper.make_tensor_value_info("", TensorProto.FLOAT, [2, 4])]
    return base_model(base_graph(outputs=outputs))


@_case("onnx", InvalidModelError, "an initializer has an empty name")
def empty_initializer_name(folder: Path):
    return base_model(base_graph([numpy_helper.from_array(W, ""), numpy_helper.from_array(B, "b")]))


@_case("onnx", InvalidModelError, "initializer 'w' appears more than once")
def duplicate_initializers(folder: Path):
    tensors = [numpy_helper.from_array(W, "w"), numpy_helper.from_array(W, "w")]
    return base_model(base_graph([*tensors, numpy_helper.from_array(B, "b")]))


@_case("onnx", InvalidModelError, "graph input 'x' appears more than once")
def duplicate_graph_inputs(folder: Path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    return base_model(base_graph(inputs=[x, x]))


@_case("onnx", InvalidModelError, "domain 'evil.example' is not imported")
def unknown_domain(folder: Path):
    nodes = [helper.make_node("Steal", ["x"], ["y"], name="steal", domain="evil.example")]
    return base_model(base_graph([], nodes))


@_case("onnx", UnsupportedOpError, "Steal (domain evil.example, opset 1)")
def unsupported_custom_op(folder: Path):
    nodes = [helper.make_node("Steal", ["x"], ["y"], name="steal", domain="evil.example")]
    model = base_model(base_graph([], nodes))
    model.opset_import.append(helper.make_opsetid("evil.example", 1))
    return model


@_case("onnx", InvalidModelError, "opset 99 of domain 'ai.onnx' is not supported")
def opset_too_new(folder: Path):
    return base_model(opset=99)


@_case("onnx", InvalidModelError, "opset 0 of domain 'ai.onnx' is not supported")
def opset_zero(folder: Path):
    return base_model(opset=0)


@_case("onnx", InvalidModelError, "is imported twice")
def domain_imported_twice(folder: Path):
    model = base_model()
    model.opset_import.append(helper.make_opsetid("", 13))
    return model


@_case("onnx", InvalidModelError, "IR version 99 is newer")
def ir_version_too_new(folder: Path):
    model = base_model()
    model.ir_version = 99
    return model


def _if_model(then_graph: onnx.GraphProto) -> onnx.ModelProto:
    other = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 3])],
    )
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["cond"]),
        helper.make_node(
            "If", ["cond"], ["y"], name="branch", then_branch=then_graph, else_branch=other
        ),
    ]
    zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])]
    return base_model(base_graph([zero], nodes, outputs=outputs))


@_case("onnx", InvalidModelError, "(subgraph): node 'inner' (Add): input 'nowhere'")
def subgraph_undefined_input(folder: Path):
    then = helper.make_graph(
        [helper.make_node("Add", ["x", "nowhere"], ["t"], name="inner")],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2, 3])],
    )
    return _if_model(then)


@_case("onnx", InvalidModelError, "(subgraph): output 'missing' is not defined")
def subgraph_undefined_output(folder: Path):
    then = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("missing", TensorProto.FLOAT, [2, 3])],
    )
    return _if_model(then)


@_case("onnx", InvalidModelError, "(subgraph): the graph has a cycle")
def subgraph_cycle(folder: Path):
    then = helper.make_graph(
        [
            helper.make_node("Add", ["x", "u"], ["t"], name="p"),
            helper.make_node("Relu", ["t"], ["u"], name="q"),
        ],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2, 3])],
    )
    return _if_model(then)


@_case("onnx", InvalidModelError, "declared GRAPH but holds no value")
def subgraph_attribute_without_graph(folder: Path):
    model = _if_model(helper.make_graph([], "then", [], []))
    attr = (
        model.graph.node[2].attribute[1]
        if model.graph.node[2].attribute[1].name == "then_branch"
        else model.graph.node[2].attribute[0]
    )
    attr.ClearField("g")
    return model


@_case("onnx", InvalidModelError, "unknown attribute type 0")
def unknown_attribute_type(folder: Path):
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    node.attribute.add(name="weird", type=onnx.AttributeProto.UNDEFINED, i=3)
    return base_model(
        base_graph(
            [], [node], outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])]
        )
    )


@_case("onnx", InvalidModelError, "refers to a function attribute outside a function")
def attribute_reference_outside_function(folder: Path):
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    node.attribute.add(name="alpha", type=onnx.AttributeProto.FLOAT, ref_attr_name="alpha")
    return base_model(base_graph([], [node]))


@_case("onnx", InvalidModelError, "is not valid UTF-8 text")
def invalid_utf8_op_type(folder: Path):
    return base_model().SerializeToString().replace(b"Relu", b"Re\xfeu")


@_case("onnx", InvalidModelError, "not an ONNX model")
def truncated_protobuf(folder: Path):
    data = base_model().SerializeToString()
    return data[: len(data) // 2 + 3]


@_case("onnx", InvalidModelError, "not an ONNX model")
def random_bytes(folder: Path):
    return np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()


@_case("onnx", InvalidModelError, "not an ONNX model (no graph)")
def empty_file(folder: Path):
    return b""


@_case("onnx", InvalidModelError, "not an ONNX model")
def pickle_as_onnx(folder: Path):
    return pickle.dumps({"graph": "os.system('echo pwned')"})


# ---------------------------------------------------------------- saved models


def _safetensors(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _saved(graph: dict, tensors: dict | None = None, patch=("", "")) -> bytes:
    header = {"format": "axonnx/1", "graph": graph}
    blob, entries, offset = b"", {}, 0
    for key, array in (tensors or {}).items():
        raw = np.ascontiguousarray(array).tobytes()
        entries[key] = {"dtype": "F32", "shape": list(array.shape)}
        entries[key]["data_offsets"] = [offset, offset + len(raw)]
        blob, offset = blob + raw, offset + len(raw)
    entries["__metadata__"] = {"axonnx": json.dumps(header).replace(*patch)}
    return _safetensors(entries, blob)


def _input_node(name="x") -> dict:
    return {
        "op": "input",
        "parents": [],
        "params": [],
        "options": {"__dict__": [["shape", None], ["dtype", None]]},
        "name": name,
        "policy": None,
        "shape": None,
        "dtype": None,
        "meta": {"__dict__": []},
    }


def _layer_node(op: str, parents: list[int], options=None) -> dict:
    node = _input_node(None)
    node.update(op=op, parents=parents, options={"__dict__": options or []})
    return node


@_case("axonnx", InvalidModelError, "not an axonnx model file")
def saved_pickle_payload(folder: Path):
    return pickle.dumps({"graph": [1, 2, 3], "params": np.ones(3)})


@_case("axonnx", UnsafeFileError, "'os:system'")
def saved_custom_layer_os_system(folder: Path):
    return _saved({"nodes": [_input_node(), _layer_node("layer:os:system", [0])], "output": 1})


@_case("axonnx", UnsafeFileError, "'subprocess:Popen'")
def saved_option_refers_to_code(folder: Path):
    options = [["fn", {"__ref__": "subprocess:Popen"}]]
    return _saved({"nodes": [_input_node(), _layer_node("relu", [0], options)], "output": 1})


@_case("axonnx", InvalidModelError, "not an axonnx model file")
def saved_header_lies_about_tensor_size(folder: Path):
    header = {
        "t0": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4_000_000]},
        "__metadata__": {"axonnx": json.dumps({"format": "axonnx/1"})},
    }
    return _safetensors(header, b"\0" * 16)


@_case("axonnx", InvalidModelError, "not an axonnx model file")
def saved_header_length_huge(folder: Path):
    return struct.pack("<Q", 2**60) + b"{}"


@_case("axonnx", InvalidModelError, "cannot reshape")
def saved_graph_lies_about_tensor_shape(folder: Path):
    value = {"__tensor__": "t0", "dtype": "float32", "shape": [1000, 1000]}
    node = _layer_node("constant", [], [["value", value]])
    return _saved({"nodes": [node], "output": 0}, {"t0": np.ones(3, np.float32)})


@_case("axonnx", InvalidModelError, "unknown op 'no_such_op'")
def saved_unknown_op(folder: Path):
    return _saved({"nodes": [_input_node(), _layer_node("no_such_op", [0])], "output": 1})


@_case("axonnx", InvalidModelError, "malformed axonnx model file")
def saved_parent_out_of_range(folder: Path):
    return _saved({"nodes": [_input_node(), _layer_node("relu", [7])], "output": 1})


@_case("axonnx", InvalidModelError, "unsupported format 'axonnx/99'")
def saved_future_format(folder: Path):
    return _safetensors({"__metadata__": {"axonnx": json.dumps({"format": "axonnx/99"})}}, b"")


@_case("axonnx", InvalidModelError, "too deeply nested")
def saved_deeply_nested_header(folder: Path):
    deep = "[" * 100_000 + "]" * 100_000
    text = '{"format": "axonnx/1", "graph": {"nodes": ' + deep + ', "output": 0}}'
    return _safetensors({"__metadata__": {"axonnx": text}}, b"")


@_case("axonnx", InvalidModelError, "too deeply nested")
def saved_deeply_nested_value(folder: Path):
    node = _layer_node("relu", [0], [["deep", "DEEP"]])
    depth = 20_000
    deep = '{"__tuple__": [' * depth + "1" + "]}" * depth
    return _saved({"nodes": [_input_node(), node], "output": 1}, patch=('"DEEP"', deep))


@_case("checkpoint", InvalidModelError, "not an axonnx checkpoint")
def checkpoint_pickle_payload(folder: Path):
    return pickle.dumps({"params": np.ones(3)})


@_case("checkpoint", InvalidModelError, "cannot reshape")
def checkpoint_lies_about_shape(folder: Path):
    layout = {"['w']": {"__tensor__": "t0", "dtype": "float32", "shape": [1000]}}
    header = {"format": "axonnx-checkpoint/1", "trees": {"params": layout}, "info": {}}
    entries = {"t0": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}
    entries["__metadata__"] = {"axonnx_checkpoint": json.dumps(header)}
    return _safetensors(entries, np.ones(3, np.float32).tobytes())


# ---------------------------------------------------------------- writing the corpus

_SUFFIX = {"onnx": ".onnx", "onnx_bytes": ".onnx", "axonnx": ".axonnx", "checkpoint": ".ckpt"}


def case_names() -> list[str]:
    """The names of the cases, in the order `build_corpus` writes them."""
    return [name for name, *_ in _BUILDERS]


def build_corpus(folder: str | os.PathLike) -> list[Case]:
    """Write every case into `folder/corpus/` (with a valid `weights.bin` beside them
    and a secret file in `folder/outside/`); return the cases."""
    root = Path(folder)
    corpus, outside = root / "corpus", root / "outside"
    corpus.mkdir(parents=True, exist_ok=True)
    outside.mkdir(exist_ok=True)
    (outside / "secret.bin").write_bytes(W.tobytes())
    (corpus / "weights.bin").write_bytes(W.tobytes())
    cases = []
    for name, kind, error, fragment, make in _BUILDERS:
        content = make(corpus)
        path = corpus / f"{name}{_SUFFIX[kind]}"
        data = content if isinstance(content, bytes) else content.SerializeToString()
        path.write_bytes(data)
        cases.append(Case(name, path, kind, error, fragment))
    return cases


if __name__ == "__main__":
    for item in build_corpus(sys.argv[1] if len(sys.argv) > 1 else "corpus_out"):
        print(f"{item.path}  →  {item.error.__name__}: {item.fragment}")
