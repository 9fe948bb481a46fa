"""The file reader that keeps large weights out of protobuf (`converters/file_weights.py`)."""

from __future__ import annotations

from pathlib import Path

import jax
import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import axonnx as ax
from axonnx.converters.file_weights import MIN_BYTES, load_lazily, scan
from axonnx.errors import InvalidModelError

MODELS = sorted((Path(__file__).parents[2] / "models").glob("*.onnx"))
BIG = (64, 512)  # 32,768 elements: above MIN_BYTES for every element size


def _arrays(proto: onnx.ModelProto, weights) -> dict[str, np.ndarray]:
    out = {}
    for tensor in proto.graph.initializer:
        if weights is not None and tensor.name in weights:
            out[tensor.name] = weights.array(tensor)
        else:
            out[tensor.name] = numpy_helper.to_array(tensor)
    return out


def _same_as_onnx_load(path: Path) -> int:
    """Check `load_lazily(path)` against `onnx.load`; return how many tensors it took."""
    reference = onnx.load(path)
    proto, weights = load_lazily(path)
    taken = set(weights.spans) if weights is not None else set()
    expected = _arrays(reference, None)
    actual = _arrays(proto, weights)
    assert list(actual) == list(expected)
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype, name
        assert actual[name].shape == value.shape, name
        assert actual[name].tobytes() == value.tobytes(), name
    stripped = onnx.ModelProto()
    stripped.CopyFrom(reference)
    for tensor in stripped.graph.initializer:
        if tensor.name in taken:
            tensor.ClearField("raw_data")
    assert proto == stripped
    return len(taken)


@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_models_read_as_onnx_load(path):
    _same_as_onnx_load(path)


@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_models_import_as_from_bytes(path):
    model, state = ax.import_onnx(path)
    reference, ref_state = ax.import_onnx(path.read_bytes())
    leaves = jax.tree_util.tree_leaves_with_path(state.params)
    expected = dict(jax.tree_util.tree_leaves_with_path(ref_state.params))
    assert [k for k, _ in leaves] == list(expected)
    for key, value in leaves:
        assert np.asarray(value).tobytes() == np.asarray(expected[key]).tobytes(), key
        assert value.dtype == expected[key].dtype
    assert model.meta == reference.meta


def _mixed_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    f32 = rng.standard_normal(BIG).astype(np.float32)
    f16 = rng.standard_normal(BIG).astype(np.float16)
    bf16 = rng.standard_normal(BIG).astype(ml_dtypes.bfloat16)
    i64 = rng.integers(-(2**40), 2**40, BIG, dtype=np.int64)
    tensors = [
        numpy_helper.from_array(f32, "f32_raw"),
        numpy_helper.from_array(f16, "f16_raw"),
        helper.make_tensor("bf16_raw", TensorProto.BFLOAT16, BIG, bf16.tobytes(), raw=True),
        numpy_helper.from_array(i64, "i64_raw"),
        helper.make_tensor("f32_typed", TensorProto.FLOAT, BIG, f32.ravel().tolist()),
        helper.make_tensor("i64_typed", TensorProto.INT64, BIG, i64.ravel().tolist()),
        numpy_helper.from_array(f32[:2, :8], "f32_small"),
        numpy_helper.from_array(i64[0, :4], "i64_small"),
        helper.make_tensor("f16_typed", TensorProto.FLOAT16, [8], f16[0, :8].tolist()),
        numpy_helper.from_array(np.arange(BIG[1], dtype=np.int8).reshape(1, -1), "i8_raw"),
    ]
    outputs = [helper.make_tensor_value_info(f"out_{t.name}", t.data_type, None) for t in tensors]
    nodes = [helper.make_node("Identity", [t.name], [f"out_{t.name}"]) for t in tensors]
    graph = helper.make_graph(nodes, "mixed", [], outputs, tensors)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_mixed_tensors(tmp_path):
    path = tmp_path / "mixed.onnx"
    onnx.save(_mixed_model(), path)
    assert _same_as_onnx_load(path) == 4  # the large raw float/int tensors
    _, weights = load_lazily(path)
    assert set(weights.spans) == {"f32_raw", "f16_raw", "bf16_raw", "i64_raw"}


def test_arrays_are_aligned_and_aliased_by_device_put(tmp_path):
    path = tmp_path / "mixed.onnx"
    onnx.save(_mixed_model(), path)
    proto, weights = load_lazily(path)
    tensor = next(t for t in proto.graph.initializer if t.name == "f32_raw")
    array = weights.array(tensor)
    assert array.ctypes.data % 64 == 0
    if jax.default_backend() == "cpu":
        assert jax.device_put(array).unsafe_buffer_pointer() == array.ctypes.data


def _corrupted(path: Path) -> None:
    """A model whose large raw tensor has 4 bytes fewer than its dims declare."""
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=list(BIG))
    tensor.raw_data = np.zeros(int(np.prod(BIG)) - 1, np.float32).tobytes()
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])],
        "bad",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [tensor],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path.write_bytes(model.SerializeToString())


def test_raw_length_disagreeing_with_dims_raises(tmp_path):
    path = tmp_path / "bad.onnx"
    _corrupted(path)
    with pytest.raises(InvalidModelError, match="initializer 'w'.*131068"):
        load_lazily(path)
    with pytest.raises(InvalidModelError, match="initializer 'w'"):
        ax.import_onnx(path)


def test_malformed_files_fall_back_to_the_normal_reader(tmp_path):
    path = tmp_path / "mixed.onnx"
    onnx.save(_mixed_model(), path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidModelError):
        load_lazily(truncated)
    group = tmp_path / "group.onnx"  # a field of wire type 3 (start group) first
    group.write_bytes(bytes([0x0B]) + data)
    with pytest.raises(InvalidModelError):
        load_lazily(group)
    with pytest.raises(ValueError):
        scan(bytes([0x0B]) + data)


def test_bytes_and_small_tensors_stay_in_protobuf(tmp_path):
    proto, weights = load_lazily(_mixed_model().SerializeToString())
    assert weights is None
    assert len(proto.graph.initializer[0].raw_data) >= MIN_BYTES
