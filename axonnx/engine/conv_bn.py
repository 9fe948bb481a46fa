"""A 2-D convolution followed by BatchNormalization, as one layer for the engine.

PyTorch's exporters fold an eval-mode BatchNormalization into the preceding Conv
(TorchScript's constant folding, the dynamo exporter's optimizer), but a model exported
with `do_constant_folding=False`, in training mode or built by hand keeps a per-channel
affine pass after each convolution (`models/cnn.onnx`). In inference mode it folds into
the convolution: with `s = scale / sqrt(var + epsilon)`, `kernel' = kernel · s` (per
output channel) and `bias' = (bias − mean) · s + beta`.

`fuse_conv_bn` replaces each such pair by one `engine::conv_bn` node named as the
batch norm (so train-mode running statistics land where they are stored). Its
parameters are derived from the stored ones by `derived_params` (JAX functions of the
state, so gradients reach the stored convolution and batch-norm parameters):
`folded_kernel` (HWIO) and `folded_bias` for inference, `conv_kernel` (the stored
OIHW array) and `conv_bias` for train mode, which runs the convolution and then
batch norm on the batch statistics (never folded).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from axonnx.engine.conv_forms import conv_hwio
from axonnx.graph import map_nodes
from axonnx.layers.normalization import batch_norm
from axonnx.node import Node
from axonnx.op_table import register_op
from axonnx.plan import Plan
from axonnx.state import ModelState, get_path

__all__ = ["CONV_BN", "conv_bn", "derived_params", "fuse_conv_bn"]

CONV_BN = "engine::conv_bn"
_CONV_OPTIONS = ("strides", "padding", "kernel_dilation", "feature_group_count")


def conv_bn(
    x: jax.Array,
    conv_kernel: jax.Array,
    conv_bias: jax.Array,
    scale: jax.Array,
    bias: jax.Array,
    mean: jax.Array,
    var: jax.Array,
    folded_kernel: jax.Array,
    folded_bias: jax.Array,
    *,
    epsilon: float = 1e-5,
    momentum: float = 0.9,
    mode: str = "inference",
    **conv_options,
) -> jax.Array | tuple[jax.Array, dict[str, jax.Array]]:
    """ONNX Conv on `x` (N, C, H, W) with the stored `conv_kernel` (O, C/groups, kH, kW)
    and `conv_bias` (O,), then BatchNormalization (all (O,)). In inference mode one
    `conv_hwio` with `folded_kernel` (kH, kW, C/groups, O) and `folded_bias` (O,); in
    train mode the two layers, normalising by the batch statistics (`batch_norm`). Data
    layouts as in `conv_hwio` (`input_layout`, `output_layout`)."""
    if mode == "inference":
        return conv_hwio(x, folded_kernel, folded_bias, **conv_options)
    y = conv_hwio(x, jnp.transpose(conv_kernel, (2, 3, 1, 0)), conv_bias, **conv_options)
    channels = "last" if conv_options.get("output_layout") == "nhwc" else "first"
    return batch_norm(
        y, scale, bias, mean, var, epsilon=epsilon, momentum=momentum, channels=channels, mode=mode
    )


register_op(CONV_BN, conv_bn)


def _fusible(conv: Node, bn: Node, consumers: dict[int, int], output: Node) -> bool:
    return (
        bn.op == "batch_norm"
        and bn.policy is None
        and bn.options.get("channels") == "first"
        and conv.op == "conv"
        and conv.policy is None
        and conv.options.get("channels") == "first"
        and len(conv.params[0].shape) == 4
        and tuple(conv.options.get("input_dilation", (1, 1))) in ((1, 1), 1)
        and consumers.get(conv.id, 0) == 1
        and conv is not output
    )


def fuse_conv_bn(laid_out: Plan) -> tuple[Node, dict[str, tuple[str, ...]]]:
    """The graph with each conv → batch_norm pair as one `conv_bn` node, and for each
    such node's name the key of the convolution whose parameters it takes."""
    consumers: dict[int, int] = {}
    for node in laid_out.order:
        for parent in node.parents:
            consumers[parent.id] = consumers.get(parent.id, 0) + 1
    fused: dict[str, tuple[str, ...]] = {}
    for node in laid_out.order:
        if node.parents and _fusible(node.parents[0], node, consumers, laid_out.output):
            fused[laid_out.names[node.id]] = laid_out.key_of(node.parents[0])
    if not fused:
        return laid_out.output, {}

    def replace(node: Node, name: str) -> Node:
        if name not in fused:  # fixed names: the removed convolutions shift no others
            return node if node.name is not None else node.replace(name=name)
        conv = node.parents[0]
        kernel = conv.params[0]
        o, i, h, w = kernel.shape
        spec = {s.name: s for s in node.params}
        params = (
            dataclasses.replace(kernel, name="conv_kernel"),
            dataclasses.replace(spec["scale"], name="conv_bias"),
            spec["scale"],
            spec["bias"],
            spec["mean"],
            spec["var"],
            dataclasses.replace(kernel, name="folded_kernel", shape=(h, w, i, o)),
            dataclasses.replace(spec["scale"], name="folded_bias"),
        )
        options = {k: v for k, v in conv.options.items() if k in _CONV_OPTIONS}
        options.update(epsilon=node.options.get("epsilon", 1e-5))
        options.update(momentum=node.options.get("momentum", 0.9))
        return node.replace(
            op=CONV_BN, name=name, parents=conv.parents, params=params, options=options
        )

    return map_nodes(laid_out.output, replace), fused


def derived_params(
    key: tuple[str, ...], conv_key: tuple[str, ...], epsilon: float
) -> list[tuple[tuple[str, ...], Callable[[ModelState], jax.Array]]]:
    """`(path, fn(state))` pairs for the derived parameters of the `conv_bn` node at
    `key` from the stored convolution at `conv_key` and batch norm at `key`."""

    def conv_bias(state: ModelState) -> jax.Array:
        bias = get_path(state.params, conv_key + ("bias",))
        if bias is not None:
            return bias
        kernel = get_path(state.params, conv_key + ("kernel",))
        return jnp.zeros(kernel.shape[0], kernel.dtype)

    def factor(state: ModelState) -> jax.Array:
        var = get_path(state.state, key + ("var",))
        return get_path(state.params, key + ("scale",)) * jax.lax.rsqrt(var + epsilon)

    def folded_kernel(state: ModelState) -> jax.Array:
        kernel = get_path(state.params, conv_key + ("kernel",))
        per_output = factor(state).astype(kernel.dtype)[None, None, None, :]
        return jnp.transpose(kernel, (2, 3, 1, 0)) * per_output

    def folded_bias(state: ModelState) -> jax.Array:
        mean = get_path(state.state, key + ("mean",))
        beta = get_path(state.params, key + ("bias",))
        return (conv_bias(state) - mean) * factor(state) + beta

    return [
        (key + ("conv_kernel",), lambda state: get_path(state.params, conv_key + ("kernel",))),
        (key + ("conv_bias",), conv_bias),
        (key + ("folded_kernel",), folded_kernel),
        (key + ("folded_bias",), folded_bias),
    ]
