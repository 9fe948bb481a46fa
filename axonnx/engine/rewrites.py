"""The engine's graph rewrites: faster forms of layers that only the compiled
function sees.

The stored model and parameters are untouched (export writes them back bit for bit).
A rewrite replaces nodes and says how each affected parameter is laid out for the new
form (`Rewritten.transforms`); the transforms are JAX functions, so they run once on
concrete parameters for `ax.predict` and inside the trace when differentiating.

- 2-D convolutions on channels-first (NCHW) data run in the form their shape class
  picks (matmul, depthwise or grouped taps, shifted slices, XLA's convolution in NHWC),
  with kernels stored as HWIO (`axonnx.engine.conv_forms`); pointwise ones on NHWC
  data, or NCHW in a graph with grouped (not depthwise) convolutions (`_layout`).
  In an NHWC graph, the values between convolutions stay NHWC where their consumers
  are element-wise (`axonnx.engine.channels_last`).
- A convolution followed by BatchNormalization is one `engine::conv_bn` layer whose
  inference form is a single convolution with the batch norm folded into its kernel
  and bias (`axonnx.engine.conv_bn`; train mode still normalises by batch statistics).
- Parameters of layers under a mixed-precision policy are stored in the compute dtype.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from axonnx.engine.channels_last import channels_last
from axonnx.engine.conv_bn import CONV_BN, derived_params, fuse_conv_bn
from axonnx.engine.conv_forms import CONV_HWIO
from axonnx.graph import map_nodes
from axonnx.node import Node
from axonnx.plan import Plan, plan
from axonnx.policy import cast_floats
from axonnx.state import ModelState, get_path, set_path

__all__ = ["Rewritten", "rewrite"]


def _rewritable(node: Node) -> bool:
    options = node.options
    return (
        node.op == "conv"
        and node.policy is None
        and options.get("channels") == "first"
        and len(node.params) >= 1
        and len(node.params[0].shape) == 4
        and tuple(options.get("input_dilation", (1, 1))) in ((1, 1), 1)
    )


def _layout(laid_out: Plan) -> str:
    """The layout of the graph's pointwise convolutions (`conv_forms.LAYOUTS`): NCHW
    when a grouped convolution with several channels per group runs on NCHW data
    beside them (ResNeXt), else NHWC (next to depthwise and dense k×k forms)."""
    for node in laid_out.order:
        grouped = node.options.get("feature_group_count", 1) > 1
        if node.op == "conv" and grouped and len(node.params[0].shape) == 4:
            if node.params[0].shape[1] > 1:  # OIHW: input channels per group
                return "nchw"
    return "nhwc"


def _rewrite(node: Node, name: str, layout: str) -> Node:
    if node.op == CONV_BN:
        return node.replace(options={**node.options, "layout": layout})
    if not _rewritable(node):
        return node
    kernel, *rest = node.params
    o, i, h, w = kernel.shape
    spec = dataclasses.replace(kernel, shape=(h, w, i, o))
    options = {k: v for k, v in node.options.items() if k not in ("channels", "input_dilation")}
    options["layout"] = layout
    return node.replace(op=CONV_HWIO, name=name, params=(spec, *rest), options=options)


@dataclass(frozen=True)
class Rewritten:
    """A graph with its layers in their fast forms, and how to lay out a state for it.

    Attributes:
        plan: the rewritten graph, laid out (same layer names and parameter paths).
        transforms: `(path, fn)` pairs: the parameter at `path` of `state.params` is
            given to the rewritten graph as `fn(value)` (a JAX function, so the same
            transform runs once on concrete parameters or inside a traced gradient).
        derived: `(path, fn)` pairs: the rewritten graph reads `fn(state)` (of the stored
            state) at `path` of the params, e.g. a kernel with a batch norm folded in.
    """

    plan: Plan
    transforms: tuple[tuple[tuple[str, ...], Callable], ...] = ()
    derived: tuple[tuple[tuple[str, ...], Callable], ...] = ()

    def prepare(self, state: ModelState) -> ModelState:
        """`state` laid out for the rewritten graph; untouched arrays are shared."""
        if not self.transforms and not self.derived:
            return state
        params = jax.tree_util.tree_map(lambda v: v, state.params)  # new dicts, same arrays
        for path, fn in self.derived:
            set_path(params, path, fn(state))
        for path, fn in self.transforms:
            value = get_path(params, path)
            if value is not None:
                set_path(params, path, fn(value))
        return ModelState(params, state.state)


def rewrite(laid_out: Plan) -> Rewritten:
    """The graph of `laid_out` with every rewritable layer in its fast form."""
    fused, conv_keys = fuse_conv_bn(laid_out)
    layout = _layout(laid_out)
    fast = map_nodes(fused, functools.partial(_rewrite, layout=layout))
    rewritten = plan(channels_last(fast) if layout == "nhwc" else fast)
    transforms, derived = [], []
    for node in rewritten.order:
        key = rewritten.key_of(node)
        if node.op == CONV_BN:
            conv_key = conv_keys[rewritten.names[node.id]]
            derived.extend(derived_params(key, conv_key, node.options["epsilon"]))
        elif node.op == CONV_HWIO:
            transforms.append((key + ("kernel",), _to_hwio))
        elif node.policy is not None and node.op != "param":
            # a policied layer's parameters in its compute dtype, cast once rather than
            # on every call (BERT-base with bfloat16 dense layers at batch 1: 111 → 39 ms)
            cast = functools.partial(cast_floats, dtype=jnp.dtype(node.policy.compute))
            transforms.extend((key + (spec.name,), cast) for spec in node.params)
    return Rewritten(rewritten, tuple(transforms), tuple(derived))


def _to_hwio(kernel: jax.Array) -> jax.Array:
    return jnp.transpose(kernel, (2, 3, 1, 0))
