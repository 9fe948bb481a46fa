"""Export of each built-in layer and activation alone: checked by onnx, run in
onnxruntime and compared with `ax.predict` at two batch sizes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import axonnx as ax

_spec = importlib.util.spec_from_file_location(
    "export_check", Path(__file__).with_name("export_check.py")
)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

ACTIVATIONS = [
    ("celu", {"alpha": 0.7}),
    ("elu", {}),
    ("exp", {}),
    ("gelu", {}),
    ("gelu", {"approximate": True}),
    ("hard_sigmoid", {}),
    ("hard_silu", {}),
    ("hard_tanh", {}),
    ("leaky_relu", {"alpha": 0.2}),
    ("linear", {}),
    ("log_sigmoid", {}),
    ("log_softmax", {}),
    ("log_sumexp", {}),
    ("log_sumexp", {"keepdims": False}),
    ("mish", {}),
    ("relu", {}),
    ("relu6", {}),
    ("selu", {}),
    ("sigmoid", {}),
    ("silu", {}),
    ("softmax", {"axis": 1}),
    ("softplus", {}),
    ("softsign", {}),
    ("tanh", {}),
]


@pytest.mark.parametrize(("fn", "options"), ACTIVATIONS, ids=lambda v: str(v))
def test_activation(fn, options):
    check.check_export(ax.activation(ax.input("x", shape=(None, 5, 4)), fn, **options))


@pytest.mark.parametrize("fn", ["gelu", "hard_silu", "mish", "log_sumexp"])
def test_activation_before_its_onnx_op(fn):
    model = ax.activation(ax.input("x", shape=(None, 5, 4)), fn)
    proto = check.check_export(model, opset=13)
    assert proto.opset_import[0].version == 13


def _x(shape=(None, 8, 8, 3)):
    return ax.input("x", shape=shape)


def _seq(features=6, name="x"):
    return ax.input(name, shape=(None, 5, features))


LAYERS = {
    "dense": lambda: _seq().dense(4),
    "dense_no_bias": lambda: _seq().dense(4, use_bias=False),
    "bilinear": lambda: ax.bilinear(_seq(3), ax.input("y", shape=(None, 5, 4)), 2),
    "embedding": lambda: ax.input("ids", shape=(None, 7), dtype="int32").embedding(10, 4),
    "conv": lambda: _x().conv(4, 3, padding="same", strides=2),
    "conv_pairs": lambda: _x().conv(4, (3, 2), padding=[(1, 0), (2, 1)], kernel_dilation=2),
    "conv_first_1d": lambda: _x((None, 3, 9)).conv(4, 3, channels="first", padding=1),
    "conv_groups": lambda: _x((None, 6, 6, 4)).conv(4, 3, feature_group_count=2),
    "conv3d": lambda: _x((None, 5, 5, 5, 2)).conv(3, 2),
    "conv_transpose": lambda: _x().conv_transpose(4, 3, strides=2),
    "conv_transpose_same": lambda: _x().conv_transpose(2, 3, strides=2, padding="same"),
    "conv_transpose_pads": lambda: _x().conv_transpose(
        2, 3, strides=2, padding=[(1, 0), (0, 1)], output_padding=1
    ),
    "depthwise_conv": lambda: _x().depthwise_conv(2, 3, padding="same"),
    "separable_conv2d": lambda: _x().separable_conv2d(2, 3, strides=2),
    "separable_conv2d_pads": lambda: _x().separable_conv2d(1, 3, padding=[(1, 1), (0, 2)]),
    "separable_conv3d": lambda: _x((None, 5, 5, 5, 2)).separable_conv3d(1, 3, padding="same"),
    "max_pool": lambda: _x().max_pool(2),
    "max_pool_same": lambda: _x().max_pool(3, strides=2, padding="same"),
    "avg_pool": lambda: _x().avg_pool(3, strides=1, padding=[(1, 1), (1, 1)]),
    "avg_pool_include": lambda: _x().avg_pool(3, padding=1, count_include_pad=True),
    "lp_pool": lambda: _x().lp_pool(2),
    "max_pool_first": lambda: _x((None, 3, 8, 8)).max_pool(2, channels="first"),
    "adaptive_avg_pool": lambda: _x().adaptive_avg_pool(4),
    "adaptive_max_pool": lambda: _x().adaptive_max_pool((2, 4)),
    "adaptive_lp_pool": lambda: _x().adaptive_lp_pool(2),
    "global_avg_pool": lambda: _x().global_avg_pool(),
    "global_max_pool": lambda: _x().global_max_pool(keep_axes=True),
    "global_lp_pool": lambda: _x().global_lp_pool(),
    "global_lp_pool_3": lambda: _x().global_lp_pool(norm=3),
    "resize_nearest": lambda: _x().resize((16, 12)),
    "resize_linear": lambda: _x().resize((16, 16), method="linear"),
    "resize_cubic": lambda: _x().resize((12, 12), method="cubic"),
    "resize_down": lambda: _x().resize((4, 4), method="linear"),
    "batch_norm": lambda: _x().batch_norm(),
    "layer_norm": lambda: _seq().layer_norm(),
    "group_norm": lambda: _x((None, 4, 4, 6)).group_norm(3),
    "instance_norm": lambda: _x().instance_norm(),
    "dropout": lambda: _seq().dropout(rate=0.3),
    "alpha_dropout": lambda: _seq().alpha_dropout(),
    "spatial_dropout": lambda: _x().spatial_dropout(),
    "feature_alpha_dropout": lambda: _x().feature_alpha_dropout(),
    "lstm": lambda: _seq().lstm(4)[0],
    "lstm_state": lambda: ax.container(_seq().lstm(4, direction="bidirectional")[1]),
    "gru": lambda: ax.container(_seq().gru(3, direction="reverse")),
    "attention": lambda: ax.multi_head_attention(_seq(8), num_heads=2),
    "attention_causal": lambda: ax.multi_head_attention(_seq(8), num_heads=4, causal=True),
    "attention_mask": lambda: ax.multi_head_attention(
        _seq(8), num_heads=2, mask=ax.input("mask", shape=(None, 1, 1, 5), dtype="bool")
    ),
    "cross_attention": lambda: ax.multi_head_attention(
        _seq(8), ax.input("kv", shape=(None, 3, 6)), num_heads=2
    ),
    "add": lambda: ax.add(_seq(), _seq(name="y"), _seq(name="z")),
    "add2": lambda: ax.add(_seq(), _seq(name="y")),
    "subtract": lambda: ax.subtract(_seq(), _seq(name="y")),
    "multiply": lambda: ax.multiply(_seq(), _seq(name="y"), _seq(name="z")),
    "concatenate": lambda: ax.concatenate([_seq(), _seq(2, "y")]),
    "stack": lambda: ax.stack([_seq(), _seq(name="y")], axis=1),
    "split": lambda: ax.container(ax.split(_seq(), 3)),
    "pad": lambda: ax.pad(_seq(), [(1, 2), (0, 1)], value=1.5),
    "pad_reflect": lambda: ax.pad(_seq(), [(1, 2), (2, -1)], mode="reflect"),
    "pad_edge": lambda: ax.pad(_seq(), [(1, 0), (0, 1)], mode="edge"),
    "cond": lambda: ax.cond(
        ax.input("p", shape=(None, 5, 6), dtype="bool"), _seq(), _seq(name="y")
    ),
    "flatten": lambda: _x().flatten(),
    "reshape": lambda: _seq().reshape((3, 10)),
    "transpose": lambda: _seq().transpose((0, 2, 1)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer(name):
    check.check_export(LAYERS[name](), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["layer_norm", "group_norm", "resize_linear", "gru"])
@pytest.mark.parametrize("opset", [13, 17])
def test_layer_at_older_opsets(name, opset):
    proto = check.check_export(LAYERS[name](), opset=opset, rtol=1e-4, atol=1e-4)
    assert proto.opset_import[0].version == opset
