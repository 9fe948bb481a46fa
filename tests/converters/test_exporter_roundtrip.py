"""Round trips of models from both PyTorch ONNX exporters: ONNX → axonnx → ONNX.

Each architecture family (BERT, GPT-2, ViT, ResNet, LSTM, CNN) is in
`tests/converters/exporters/` twice, from the TorchScript exporter (`dynamo=False`,
opset 18) and from the dynamo exporter (`dynamo=True`, its default opset); the files
are made by `exporters/make_exporter_models.py` (tiny configs, random seeded weights).
Each one is imported with `ax.import_onnx` and written back with `ax.export_onnx`; the
export must pass `onnx.checker.check_model(full_check=True)`, load in onnxruntime,
keep the imported nodes' attributes (no attribute the original node did not have),
and compute what the original computes in onnxruntime, as `ax.predict` must.
Only onnx, onnxruntime and jax are needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import axonnx as ax

FOLDER = Path(__file__).resolve().parent / "exporters"
FAMILIES = ("bert", "gpt2", "vit", "resnet", "lstm", "cnn")
EXPORTERS = ("torchscript", "dynamo")
VOCAB = 100  # every token model's vocabulary (make_exporter_models.py)
BATCH, SEQUENCE = 3, 5  # not the export example's (2, 8): the dynamic axes are used
RTOL, ATOL = 1e-4, 1e-5


def _files() -> list[str]:
    return sorted(p.name for p in FOLDER.glob("*.onnx"))


def test_every_family_from_both_exporters():
    expected = sorted(f"{f}_{e}.onnx" for f in FAMILIES for e in EXPORTERS)
    assert _files() == expected, "regenerate with exporters/make_exporter_models.py"
    opsets = {name: onnx.load(FOLDER / name).opset_import for name in expected}
    for name, imports in opsets.items():
        version = {i.domain: i.version for i in imports}[""]
        assert version == 18 if "torchscript" in name else version >= 18, (name, version)


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _feeds(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Inputs for every graph input: images ~ N(0, 1); token ids below the vocabulary;
    attention masks of ones with the second row padded; token types 0, then 1."""
    rng = np.random.default_rng(0)
    feeds = {}
    for value in model.graph.input:
        tensor = value.type.tensor_type
        dynamic = iter((BATCH, SEQUENCE))
        shape = tuple(
            d.dim_value if d.HasField("dim_value") else next(dynamic) for d in tensor.shape.dim
        )
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.standard_normal(shape).astype(dtype)
        elif "mask" in value.name:
            mask = np.ones(shape, dtype)
            mask[1, shape[1] // 2 :] = 0
            feeds[value.name] = mask
        elif "type" in value.name:
            feeds[value.name] = (np.arange(shape[1]) >= shape[1] // 2).astype(dtype) + np.zeros(
                shape, dtype
            )
        else:
            feeds[value.name] = rng.integers(0, VOCAB, shape).astype(dtype)
    return feeds


def _attributes(graph: onnx.GraphProto) -> dict[tuple[str, str], dict]:
    """Attributes of the named default-domain nodes, by (name, op type)."""
    return {
        (n.name, n.op_type): {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        for n in graph.node
        if n.name and n.domain in ("", "ai.onnx")
    }


def _added(op_type: str, opset: int, before: dict, after: dict) -> set[str]:
    """Attributes the exported node has that the original did not, less those set to
    the schema's default (layer exporters spell some out, e.g. Gather's axis=0)."""
    schema = onnx.defs.get_schema(op_type, opset)
    added = set()
    for name in after.keys() - before.keys():
        default = schema.attributes[name].default_value
        if default.type == onnx.AttributeProto.UNDEFINED or after[name] != (
            onnx.helper.get_attribute_value(default)
        ):
            added.add(name)
    return added


@pytest.mark.parametrize("name", [pytest.param(n, id=n.removesuffix(".onnx")) for n in _files()])
def test_round_trip(name, tmp_path):
    original = onnx.load(FOLDER / name)
    graph, state = ax.import_onnx(FOLDER / name)
    exported = ax.export_onnx(graph, state, tmp_path / "out.onnx")
    onnx.checker.check_model(exported, full_check=True)
    onnx.checker.check_model(str(tmp_path / "out.onnx"), full_check=True)
    assert exported.opset_import[0].version == original.opset_import[0].version

    before, after = _attributes(original.graph), _attributes(exported.graph)
    opset = original.opset_import[0].version
    for key in before.keys() & after.keys():
        assert not _added(key[1], opset, before[key], after[key]), key

    session = _session(exported)  # onnxruntime loads it
    reference = _session(original)
    feeds = _feeds(original)
    names = [o.name for o in reference.get_outputs()]
    assert [o.name for o in session.get_outputs()] == names
    expected = reference.run(None, feeds)
    for output, got, want in zip(names, session.run(None, feeds), expected, strict=True):
        assert got.shape == want.shape, output
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"{name}: {output}")

    predicted = ax.predict(graph, state, feeds)
    if not isinstance(predicted, dict):
        predicted = dict(zip(names, [predicted], strict=True))
    for output, want in zip(names, expected, strict=True):
        got = np.asarray(predicted[output])
        assert got.shape == want.shape, output
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"{name}: {output}")
