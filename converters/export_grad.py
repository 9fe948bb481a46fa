"""Derivatives of a model as an ONNX model: `jax.grad` (or vjp, jvp, jacobian) of the
model's prediction, written with `export_function`'s machinery.

The derivative model has the original inputs (at static shapes) and the original
parameters as initializers under their ONNX names, in the ONNX layout: a parameter
the importer stored transposed (Gemm's `transB` weight, say) is transposed back inside
the traced function, so its gradient comes out in the initializer's own layout.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import onnx

from axonnx.converters.export_function import Argument, write_function
from axonnx.converters.external import save_model
from axonnx.converters.loading import load_model
from axonnx.converters.onnx_import import import_onnx
from axonnx.engine import build
from axonnx.errors import InvalidModelError
from axonnx.node import Node
from axonnx.plan import plan
from axonnx.state import ModelState, get_path, set_path

__all__ = ["MODES", "export_grad"]

MODES = ("grad", "vjp", "jvp", "jacobian")


@dataclass(frozen=True)
class _Param:
    """A parameter of the model: where it sits in the state, its ONNX name, its value
    in the ONNX layout and the permutation that gives the stored layout."""

    path: tuple[str, ...]
    kind: str
    name: str
    value: np.ndarray
    perm: tuple[int, ...] | None

    def stored(self, value: Any) -> Any:
        return value if self.perm is None else jnp.transpose(value, self.perm)


def export_grad(
    model_or_path: str | os.PathLike | tuple[Node, ModelState],
    *,
    wrt: str | Sequence[str] = (),
    of: str | None = None,
    path: str | os.PathLike | None = None,
    params: bool = False,
    mode: str = "grad",
    dims: Mapping[str, int] | None = None,
    opset: int | None = None,
) -> onnx.ModelProto:
    """Export the derivative of a model's output as an ONNX model.

    Args:
        model_or_path: an ONNX file (imported with `dims`) or `(model, state)`.
        wrt: the float inputs to differentiate with respect to (names, or one
            comma-separated string).
        of: the output differentiated (default: the first).
        path: where to write the file; the `ModelProto` is returned either way.
        params: also differentiate with respect to every trainable parameter; the
            outputs are named `grad_<initializer name>`.
        mode: `"grad"`: outputs `grad_<name>` = d(sum of OUTPUT)/d(name); `"vjp"`: an
            extra input `cotangent_<OUTPUT>` replaces the sum's ones; `"jvp"`: inputs
            `tangent_<name>`, outputs OUTPUT and `jvp_<OUTPUT>`; `"jacobian"`: outputs
            `jacobian_<name>` of shape OUTPUT.shape + name.shape (small outputs).
        dims: sizes of symbolic dimensions; the rest are 1 (the derivative model has
            static shapes).
        opset: default-domain opset (default: the newest onnxruntime loads).

    >>> ax.export_grad("cnn.onnx", wrt="x", path="cnn_grad.onnx")  # doctest: +SKIP
    """
    if mode not in MODES:
        raise InvalidModelError(f"export_grad: expected mode in {MODES}, got {mode!r}")
    graph, state, originals = _load(model_or_path, dims)
    inputs = _inputs(graph)
    names = [n for n in ([wrt] if isinstance(wrt, str) else list(wrt)) for n in n.split(",") if n]
    _check_wrt(names, inputs, params)
    leaves = _params(graph, state, originals)
    trainable = [leaf for leaf in leaves if leaf.kind == "param"] if params else []
    _, predict_fn = build(graph)
    output = _output_name(graph, state, predict_fn, inputs, of)

    def forward(feeds: dict, values: Sequence) -> jax.Array:
        current = _with_values(state, leaves, values)
        return predict_fn(current, feeds)[output]

    fn, extra, out_names = _derivative(mode, forward, inputs, names, leaves, trainable, output)
    arguments = [Argument(n, np.zeros(s, d)) for n, s, d in inputs] + extra
    arguments += [Argument(leaf.name, leaf.value, initializer=True) for leaf in leaves]
    proto = write_function(fn, arguments, out_names, opset=opset, where="export_grad")
    if path is not None:
        save_model(proto, Path(path))
    return proto


def _derivative(mode, forward, inputs, names, leaves, trainable, output):
    """(flat function, extra input Arguments, output names) for `mode`."""
    input_names = [n for n, _, _ in inputs]
    position = {leaf.name: k for k, leaf in enumerate(leaves)}
    chosen = [*names, *(leaf.name for leaf in trainable)]
    out_avals = _output_aval(forward, inputs, leaves)
    count = len(inputs)

    def split(flat):
        feeds = dict(zip(input_names, flat[:count]))
        end = len(flat) - len(leaves)
        return feeds, list(flat[end:]), list(flat[count:end])

    def of_chosen(feeds, values):
        def f(*xs):
            f_feeds, f_values = dict(feeds), list(values)
            for name, x in zip(chosen, xs):
                if name in f_feeds:
                    f_feeds[name] = x
                else:
                    f_values[position[name]] = x
            return forward(f_feeds, f_values)

        primals = [feeds[n] if n in feeds else values[position[n]] for n in chosen]
        return f, primals

    if mode in ("grad", "vjp"):
        cotangent = Argument(f"cotangent_{output}", np.zeros(out_avals.shape, out_avals.dtype))
        extra = [cotangent] if mode == "vjp" else []

        def fn(*flat):
            feeds, values, rest = split(flat)
            f, primals = of_chosen(feeds, values)
            out, pullback = jax.vjp(f, *primals)
            return list(pullback(rest[0] if rest else jnp.ones_like(out)))

        return fn, extra, [f"grad_{n}" for n in chosen]
    if mode == "jvp":
        shapes = _chosen_shapes(chosen, inputs, leaves)
        extra = [Argument(f"tangent_{n}", np.zeros(s, d)) for n, (s, d) in zip(chosen, shapes)]

        def fn(*flat):
            feeds, values, tangents = split(flat)
            f, primals = of_chosen(feeds, values)
            out, tangent = jax.jvp(f, tuple(primals), tuple(tangents))
            return [out, tangent]

        return fn, extra, [output, f"jvp_{output}"]

    def fn(*flat):
        feeds, values, _ = split(flat)
        f, primals = of_chosen(feeds, values)
        return list(jax.jacrev(f, argnums=tuple(range(len(primals))))(*primals))

    return fn, [], [f"jacobian_{n}" for n in chosen]


def _chosen_shapes(chosen, inputs, leaves) -> list[tuple]:
    shapes = {n: (s, d) for n, s, d in inputs}
    shapes.update({leaf.name: (leaf.value.shape, leaf.value.dtype) for leaf in leaves})
    return [shapes[n] for n in chosen]


def _output_aval(forward, inputs, leaves):
    feeds = {n: jax.ShapeDtypeStruct(s, d) for n, s, d in inputs}
    values = [jax.ShapeDtypeStruct(leaf.value.shape, leaf.value.dtype) for leaf in leaves]
    return jax.eval_shape(forward, feeds, values)


def _load(source, dims) -> tuple[Node, ModelState, dict[str, np.ndarray]]:
    if isinstance(source, tuple):
        graph, state = source
        return graph, state, {}
    proto = load_model(source) if not isinstance(source, onnx.ModelProto) else source
    originals = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    graph, state = import_onnx(proto, dims=dims)
    return graph, state, originals


def _inputs(graph: Node) -> list[tuple[str, tuple, np.dtype]]:
    laid_out = plan(graph)
    result = []
    for node in laid_out.inputs:
        shape = tuple(1 if d is None else int(d) for d in (node.shape or ()))
        result.append((laid_out.names[node.id], shape, np.dtype(node.dtype or "float32")))
    return result


def _check_wrt(names: list[str], inputs: list, params: bool) -> None:
    kinds = {n: d for n, _, d in inputs}
    if not names and not params:
        raise InvalidModelError("export_grad: nothing to differentiate; give wrt= or params=True")
    for name in names:
        if name not in kinds:
            raise InvalidModelError(
                f"export_grad: wrt {name!r} is not an input (inputs: {', '.join(kinds)})"
            )
        if not np.issubdtype(kinds[name], np.floating):
            raise InvalidModelError(
                f"export_grad: input {name!r} is {kinds[name]}, not a float; it has no gradient"
            )


def _output_name(graph, state, predict_fn, inputs, of: str | None) -> str:
    feeds = {n: jax.ShapeDtypeStruct(s, d) for n, s, d in inputs}
    outputs = jax.eval_shape(predict_fn, state, feeds)
    if not isinstance(outputs, dict):
        raise InvalidModelError("export_grad: expected a model whose outputs are named")
    names = list(outputs)
    if of is None:
        return names[0]
    if of not in outputs:
        raise InvalidModelError(f"export_grad: no output {of!r} (outputs: {', '.join(names)})")
    return of


def _params(graph: Node, state: ModelState, originals: dict) -> list[_Param]:
    laid_out, leaves, seen = plan(graph), [], set()
    for node in laid_out.order:
        for spec in node.params:
            path = laid_out.key_of(node) + (() if node.op == "param" else (spec.name,))
            if (spec.kind, path) in seen:
                continue
            seen.add((spec.kind, path))
            stored = get_path(state.state if spec.kind == "state" else state.params, path)
            if stored is None:
                continue
            name = spec.meta.get("onnx_name") or ".".join(path)
            value, perm = _onnx_layout(np.asarray(stored), originals.get(name))
            leaves.append(_Param(path, spec.kind, name, value, perm))
    return leaves


def _onnx_layout(stored: np.ndarray, original: np.ndarray | None):
    """(value in the initializer's layout, permutation back to the stored one)."""
    if original is None or original.shape == stored.shape and np.array_equal(original, stored):
        return stored, None
    if original.size == stored.size and stored.ndim <= 5:
        for perm in itertools.permutations(range(stored.ndim)):
            if np.array_equal(np.transpose(original, perm), stored):
                return original.astype(stored.dtype), perm
    return stored, None


def _with_values(state: ModelState, leaves: list[_Param], values: Sequence) -> ModelState:
    params = jax.tree_util.tree_map(lambda v: v, state.params)
    rest = jax.tree_util.tree_map(lambda v: v, state.state)
    for leaf, value in zip(leaves, values):
        set_path(params if leaf.kind == "param" else rest, leaf.path, leaf.stored(value))
    return ModelState(params, rest)
