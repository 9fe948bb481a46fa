"""ONNX's Gradient op (ai.onnx.preview.training): derivatives of one graph value with
respect to others, computed with `jax.grad` over the part of the graph between them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import onnx

from axonnx.converters.registry import onnx_op
from axonnx.errors import UnsupportedOpError
from axonnx.node import Node
from axonnx.plan import plan

TRAINING = "ai.onnx.preview.training"


def _forward(importer, proto: onnx.NodeProto, options: dict) -> list[Node]:
    """Import hook: the subgraph from the `xs` to `y`, run as a function of the `xs`;
    the other graph inputs it reads become captured inputs of the node."""
    from axonnx.converters.graph_import import gather_outputs
    from axonnx.subgraph import Subgraph

    xs = tuple(options["xs"])
    target = importer.lookup(options["y"], f"Gradient node {proto.name!r}")
    laid_out = plan(target)
    if any(n.op == "param" for n in laid_out.order):
        raise UnsupportedOpError(
            f"Gradient node {proto.name!r}: y depends on trainable parameters; differentiate "
            "the imported model with jax.grad instead"
        )
    inputs = [n for n in laid_out.order if n.op == "input" and n.name not in xs]
    options["forward"] = Subgraph(gather_outputs((target,)), xs, tuple(n.name for n in inputs))
    options["capture_names"] = tuple(n.name for n in inputs)
    return inputs


@onnx_op("Gradient", 1, domain=TRAINING, prepare=_forward)
def gradient(*values, xs, y, zs=None, forward=None, capture_names=()):
    """ai.onnx.preview.training Gradient-1: d(sum y)/d x for each x in `xs`."""
    count = len(xs)
    env = dict(zip(capture_names, values[count:], strict=True))

    def total(*x):
        return jnp.sum(forward(*x, env=env)[0])

    return tuple(jax.grad(total, argnums=tuple(range(count)))(*values[:count]))
