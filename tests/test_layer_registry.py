"""Every built-in layer, checked from one table: what a newcomer adding a layer must write.

A layer is an op registered by a family module of `axonnx.builders` (not the wiring ops
of `builders.core`, not the combinators). For each: a functional implementation in
`axonnx.layers` or `axonnx.activations`, a builder with a docstring and a `>>>` example,
a chained `Node` method, a public name in `axonnx.__all__`, a save/load round trip, and
an ONNX export rule or an entry in `NOT_EXPORTABLE` with its reason. Each failure says
which file to edit (docs/architecture.md, "Add a layer", walks through them).
"""

from __future__ import annotations

import inspect

import jax
import numpy as np
import pytest

import axonnx as ax
from axonnx import activations, layers
from axonnx.builders import activations as act_builders
from axonnx.builders import conv, linear, normalization, recurrent
from axonnx.converters.onnx_export import exporters
from axonnx.op_table import registered_ops

FAMILIES = {
    act_builders: "activations",
    linear: "linear",
    normalization: "normalization",
    conv: "convolution",
    recurrent: "recurrent",
}
"""Builder module -> the family file of its ONNX rules, converters/layers/<family>.py."""

LAYERS = {op: module for module in FAMILIES for op in module.__all__ if op in registered_ops()}

NOT_EXPORTABLE: dict[str, str] = {}
"""Layers without an ONNX form, each with its reason (none today)."""


def _x(shape=(None, 6, 6, 3)):
    return ax.input("x", shape=shape)


EXAMPLES = {
    "dense": lambda: _x((None, 5)).dense(4),
    "bilinear": lambda: ax.bilinear(_x((None, 5)), ax.input("y", shape=(None, 3)), 4),
    "embedding": lambda: ax.input("ids", shape=(None, 5), dtype="int32").embedding(10, 4),
    "conv": lambda: _x().conv(4, 3),
    "conv_transpose": lambda: _x().conv_transpose(4, 3),
    "depthwise_conv": lambda: _x().depthwise_conv(2, 3),
    "separable_conv2d": lambda: _x().separable_conv2d(2, 3),
    "separable_conv3d": lambda: _x((None, 4, 4, 4, 2)).separable_conv3d(2, 3),
    "max_pool": lambda: _x().max_pool(2),
    "avg_pool": lambda: _x().avg_pool(2),
    "lp_pool": lambda: _x().lp_pool(2),
    "adaptive_avg_pool": lambda: _x().adaptive_avg_pool(3),
    "adaptive_max_pool": lambda: _x().adaptive_max_pool(3),
    "adaptive_lp_pool": lambda: _x().adaptive_lp_pool(3),
    "resize": lambda: _x().resize((12, 12)),
    "group_norm": lambda: _x((None, 6, 6, 4)).group_norm(2),
    "lstm": lambda: _x((None, 5, 3)).lstm(4)[0],
    "gru": lambda: _x((None, 5, 3)).gru(4)[0],
    "conv_lstm": lambda: _x((None, 3, 6, 6, 2)).conv_lstm(4, 3)[0],
    "multi_head_attention": lambda: _x((None, 5, 8)).multi_head_attention(num_heads=2),
}
"""How to build each layer whose builder needs arguments; the others are built as
`x.<layer>()` on an input of shape (None, 6, 6, 3). Recurrent layers give their
sequence output (a `getitem` of the layer)."""


def _example(op: str) -> ax.Node:
    if op in EXAMPLES:
        return EXAMPLES[op]()
    return getattr(_x(), op)()


def _builder_file(op: str) -> str:
    return f"axonnx/builders/{LAYERS[op].__name__.rsplit('.', 1)[-1]}.py"


def test_the_table_finds_the_layers():
    assert {"dense", "conv", "lstm", "layer_norm", "rms_norm", "relu"} <= set(LAYERS)


@pytest.mark.parametrize("op", sorted(LAYERS))
def test_functional_implementation(op):
    home = activations if LAYERS[op] is act_builders else layers
    fn = getattr(home, op, None)
    assert callable(fn) and not inspect.ismodule(fn), (
        f"{op}: no functional implementation; add a pure function `{op}` to the family's "
        f"file in axonnx/layers/ (or axonnx/activations.py) and list it in its __init__"
    )


@pytest.mark.parametrize("op", sorted(LAYERS))
def test_builder_has_a_docstring_with_an_example(op):
    builder = getattr(LAYERS[op], op)
    doc = builder.__doc__ or ""
    assert doc.strip() and ">>>" in doc, (
        f"{op}: the builder needs a docstring with a `>>>` example; edit {_builder_file(op)}"
    )


@pytest.mark.parametrize("op", sorted(LAYERS))
def test_chained_method_and_public_name(op):
    builder = getattr(LAYERS[op], op)
    assert getattr(ax.Node, op, None) is builder, (
        f"{op}: add `Node.{op} = ...{op}` to axonnx/builders/methods.py"
    )
    assert getattr(ax, op, None) is builder and op in ax.__all__, (
        f"{op}: import it and add {op!r} to __all__ in axonnx/__init__.py"
    )


def test_public_names_are_sorted():
    assert ax.__all__ == sorted(ax.__all__), "keep __all__ in axonnx/__init__.py sorted"


@pytest.mark.parametrize("op", sorted(LAYERS))
def test_onnx_mapping_or_a_reason(op):
    family = FAMILIES[LAYERS[op]]
    assert op in exporters() or NOT_EXPORTABLE.get(op), (
        f"{op}: add an export rule (@exporter({op!r})) to converters/layers/{family}.py, or "
        f"an entry with its reason to NOT_EXPORTABLE in tests/test_layer_registry.py"
    )
    assert not (op in exporters() and op in NOT_EXPORTABLE), (
        f"{op}: exported; drop it from NOT_EXPORTABLE"
    )


def _inputs(model: ax.Node, rng: np.random.Generator) -> dict:
    from axonnx.plan import plan

    laid_out = plan(model)
    feeds = {}
    for node in laid_out.inputs:
        shape = tuple(2 if d is None else d for d in node.shape)
        if node.dtype == "int32":
            feeds[laid_out.names[node.id]] = rng.integers(0, 10, shape).astype(np.int32)
        else:
            feeds[laid_out.names[node.id]] = rng.standard_normal(shape).astype(np.float32)
    return feeds


@pytest.mark.parametrize("op", sorted(LAYERS))
def test_save_load_round_trip(op, tmp_path):
    try:
        model = _example(op)
    except TypeError as error:
        pytest.fail(
            f"{op}: add a way to build it to EXAMPLES in tests/test_layer_registry.py ({error})"
        )
    state = ax.init(model)
    ax.save(tmp_path / "layer.axonnx", model, state)
    loaded, loaded_state = ax.load(tmp_path / "layer.axonnx")
    layer = model.parents[0] if model.op == "getitem" else model
    loaded_layer = loaded.parents[0] if loaded.op == "getitem" else loaded
    assert loaded_layer.op == op == layer.op, f"{op}: the example builds {layer.op}"
    assert dict(loaded_layer.options) == dict(layer.options), (
        f"{op}: its options do not survive save/load; see axonnx/serialization.py"
    )
    feeds = _inputs(model, np.random.default_rng(0))
    expected = jax.tree_util.tree_leaves(ax.predict(model, state, feeds))
    got = jax.tree_util.tree_leaves(ax.predict(loaded, loaded_state, feeds))
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(e))
