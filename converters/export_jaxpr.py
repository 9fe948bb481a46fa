"""Custom `ax.layer` functions exported by tracing them to a jaxpr and writing each
primitive as ONNX ops.

The function is traced on its inputs' shapes, with `None` dimensions symbolic
(`batch` for the first axis, `d<axis>` for the others), so the exported graph keeps
them dynamic: a shape that mentions one is assembled from `Shape` of the input that
has it. Calls (`pjit`, `custom_jvp_call`, …) are written by recursing into their
inner jaxpr. A primitive without a mapping raises `UnsupportedOpError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal
from onnx import helper

from axonnx.converters.onnx_writer import Writer, exporter, layer_name, value_dtype
from axonnx.errors import UnsupportedOpError
from axonnx.node import Node
from axonnx.ops import get_op

__all__ = ["PRIMITIVES"]

_Rule = Callable[["_Tracer", Any, list[str]], list[str] | str]
PRIMITIVES: dict[str, _Rule] = {}


def _rule(*names: str) -> Callable[[_Rule], _Rule]:
    def register(fn: _Rule) -> _Rule:
        for name in names:
            PRIMITIVES[name] = fn
        return fn

    return register


class _Tracer:
    """Writes one jaxpr (and the jaxprs it calls) into a `Writer`."""

    def __init__(self, w: Writer, where: str, dims: dict[str, tuple[str, int]]):
        self.w, self.where, self.dims, self.sizes = w, where, dims, {}

    def run(self, jaxpr, consts: list, args: list[str]) -> list[str]:
        env: dict[Any, str] = {}
        for var, value in zip(jaxpr.constvars, consts):
            env[var] = self.w.constant(np.asarray(value), "const")
        for var, name in zip(jaxpr.invars, args):
            env[var] = name
        for eqn in jaxpr.eqns:
            rule = PRIMITIVES.get(eqn.primitive.name)
            if rule is None:
                raise UnsupportedOpError(
                    f"{self.where}: the jaxpr primitive {eqn.primitive.name!r} has no ONNX "
                    f"mapping (mapped: {', '.join(sorted(PRIMITIVES))})"
                )
            out = rule(self, eqn, [self.read(env, v) for v in eqn.invars])
            for var, name in zip(eqn.outvars, [out] if isinstance(out, str) else out):
                env[var] = name
        return [self.read(env, v) for v in jaxpr.outvars]

    def read(self, env: dict, var: Any) -> str:
        if isinstance(var, Literal):
            return self.w.constant(np.asarray(var.val, var.aval.dtype), "literal")
        return env[var]

    def shape(self, dims: tuple, reshape: bool = False) -> str:
        """A 1-D int64 shape tensor; symbolic dimensions come from the inputs' `Shape`
        (or, for one reshape dimension, -1)."""
        if all(isinstance(d, int) for d in dims):
            return self.w.constant(np.array(dims, np.int64), "shape")
        symbolic = [d for d in dims if not isinstance(d, int)]
        if reshape and len(symbolic) == 1 and str(symbolic[0]) not in self.dims:
            return self.w.constant(np.array([d if isinstance(d, int) else -1 for d in dims]))
        parts = [
            self.w.constant(np.array([d], np.int64)) if isinstance(d, int) else self.size(d)
            for d in dims
        ]
        return self.w.op("Concat", parts, axis=0)[0]

    def size(self, dim: Any) -> str:
        key = str(dim)
        if key not in self.dims:
            raise UnsupportedOpError(
                f"{self.where}: the traced function computes a shape from the dynamic "
                f"dimension {key!r}; give the input a static shape"
            )
        if key not in self.sizes:
            value, axis = self.dims[key]
            shape = self.w.op("Shape", [value])[0]
            index = self.w.constant(np.array([axis], np.int64), "axis")
            self.sizes[key] = self.w.op("Gather", [shape, index], axis=0)[0]
        return self.sizes[key]

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        return self.w.op(op_type, inputs, **attrs)[0]


@exporter("layer:")
def _layer(w: Writer, node: Node, inputs: list, params: dict) -> Any:
    """ONNX: custom `ax.layer` functions: traced to a jaxpr, each primitive mapped.

    Trace the layer's function on its inputs' shapes and write the jaxpr."""
    where = w.plan.where(node)
    structs, dims = _abstract_inputs(node, inputs, where)
    fn = get_op(node.op).fn
    options = dict(node.options)
    closed = jax.make_jaxpr(lambda *xs: fn(*xs, **options))(*structs)
    flat = _Tracer(w, where, dims).run(closed.jaxpr, closed.consts, inputs)
    out_tree = jax.tree_util.tree_structure(
        jax.eval_shape(lambda *xs: fn(*xs, **options), *structs)
    )
    flat = [w.op("Identity", [n], name=layer_name(w, node))[0] for n in flat]
    result = jax.tree_util.tree_unflatten(out_tree, flat)
    return list(result) if isinstance(result, tuple) else result


def _abstract_inputs(node: Node, inputs: list, where: str):
    structs, dims, scope = [], {}, jax.export.SymbolicScope()
    for parent, name in zip(node.parents, inputs):
        if parent.shape is None or not isinstance(name, str):
            raise UnsupportedOpError(f"{where}: cannot trace a layer whose input shape is unknown")
        names = []
        for axis, size in enumerate(parent.shape):
            if size is None:
                symbol = "batch" if axis == 0 else f"d{axis}"
                dims.setdefault(symbol, (name, axis))
                names.append(symbol)
            else:
                names.append(str(size))
        shape = jax.export.symbolic_shape(", ".join(names), scope=scope) if names else ()
        structs.append(jax.ShapeDtypeStruct(shape, jnp.dtype(value_dtype(parent) or "float32")))
    return structs, dims


def _elem(dtype: Any) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


# --- element-wise ------------------------------------------------------------------------

_BINARY = {
    "add": "Add",
    "sub": "Sub",
    "mul": "Mul",
    "div": "Div",
    "max": "Max",
    "min": "Min",
    "pow": "Pow",
    "eq": "Equal",
    "lt": "Less",
    "le": "LessOrEqual",
    "gt": "Greater",
    "ge": "GreaterOrEqual",
    "and": "And",
    "or": "Or",
    "xor": "Xor",
    "atan2": None,
}
_UNARY = {
    "exp": "Exp",
    "log": "Log",
    "tanh": "Tanh",
    "logistic": "Sigmoid",
    "neg": "Neg",
    "abs": "Abs",
    "sqrt": "Sqrt",
    "erf": "Erf",
    "sin": "Sin",
    "cos": "Cos",
    "tan": "Tan",
    "floor": "Floor",
    "ceil": "Ceil",
    "sign": "Sign",
    "not": "Not",
    "round": "Round",
    "copy": "Identity",
    "copy_p": "Identity",
    "reduce_precision": "Identity",
    "is_finite": None,
}


@_rule(*(k for k, v in _BINARY.items() if v))
def _binary(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op(_BINARY[eqn.primitive.name], args)


@_rule("ne")
def _ne(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op("Not", [t.op("Equal", args)])


@_rule("rem")
def _rem(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op("Mod", args, fmod=1)


@_rule(*(k for k, v in _UNARY.items() if v))
def _unary(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op(_UNARY[eqn.primitive.name], args)


@_rule("rsqrt")
def _rsqrt(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op("Reciprocal", [t.op("Sqrt", args)])


@_rule("square")
def _square(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op("Mul", [args[0], args[0]])


@_rule("log1p", "expm1")
def _log1p(t: _Tracer, eqn, args: list[str]) -> str:
    one = t.w.constant(np.ones((), eqn.invars[0].aval.dtype), "one")
    if eqn.primitive.name == "log1p":
        return t.op("Log", [t.op("Add", [args[0], one])])
    return t.op("Sub", [t.op("Exp", args), one])


@_rule("integer_pow")
def _integer_pow(t: _Tracer, eqn, args: list[str]) -> str:
    y = int(eqn.params["y"])
    if 1 <= y <= 4:
        result = args[0]
        for _ in range(y - 1):
            result = t.op("Mul", [result, args[0]])
        return result
    exponent = t.w.constant(np.asarray(y, eqn.invars[0].aval.dtype), "exponent")
    return t.op("Pow", [args[0], exponent])


@_rule("convert_element_type")
def _convert(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op("Cast", args, to=_elem(eqn.params["new_dtype"]))


@_rule("select_n")
def _select_n(t: _Tracer, eqn, args: list[str]) -> str:
    predicate, *cases = args
    if len(cases) != 2:
        raise UnsupportedOpError(f"{t.where}: select_n with {len(cases)} cases has no mapping")
    if eqn.invars[0].aval.dtype != np.bool_:
        predicate = t.op("Cast", [predicate], to=_elem(np.bool_))
    return t.op("Where", [predicate, cases[1], cases[0]])


@_rule("clamp")
def _clamp(t: _Tracer, eqn, args: list[str]) -> str:
    low, x, high = args
    return t.op("Max", [t.op("Min", [x, high]), low])


@_rule("stop_gradient")
def _identity(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op("Identity", args)


# --- linear algebra ----------------------------------------------------------------------


@_rule("dot_general")
def _dot_general(t: _Tracer, eqn, args: list[str]) -> str:
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lhs, rhs = eqn.invars[0].aval.ndim, eqn.invars[1].aval.ndim
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    left = [next(letters) for _ in range(lhs)]
    right = [next(letters) for _ in range(rhs)]
    for a, b in [*zip(lc, rc), *zip(lb, rb)]:
        right[b] = left[a]
    batch = [left[a] for a in lb]
    free = [left[a] for a in range(lhs) if a not in lc and a not in lb]
    free += [right[b] for b in range(rhs) if b not in rc and b not in rb]
    equation = f"{''.join(left)},{''.join(right)}->{''.join(batch + free)}"
    result = t.op("Einsum", args, equation=equation)
    out = eqn.outvars[0].aval.dtype
    return result if out == eqn.invars[0].aval.dtype else t.op("Cast", [result], to=_elem(out))


# --- shapes ------------------------------------------------------------------------------


@_rule("reshape")
def _reshape(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op("Reshape", [args[0], t.shape(tuple(eqn.params["new_sizes"]), reshape=True)])


@_rule("transpose")
def _transpose(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op("Transpose", args, perm=[int(p) for p in eqn.params["permutation"]])


@_rule("broadcast_in_dim")
def _broadcast_in_dim(t: _Tracer, eqn, args: list[str]) -> str:
    shape, kept = tuple(eqn.params["shape"]), eqn.params["broadcast_dimensions"]
    new = [a for a in range(len(shape)) if a not in kept]
    x = args[0]
    if new:
        x = t.op("Unsqueeze", [x, t.w.constant(np.array(new, np.int64), "axes")])
    if tuple(eqn.invars[0].aval.shape) == tuple(shape[a] for a in kept) and not [
        shape[a] for a in new if shape[a] != 1
    ]:
        return x
    return t.op("Expand", [x, t.shape(shape)])


@_rule("squeeze")
def _squeeze(t: _Tracer, eqn, args: list[str]) -> str:
    axes = t.w.constant(np.array(eqn.params["dimensions"], np.int64), "axes")
    return t.op("Squeeze", [args[0], axes])


@_rule("expand_dims")
def _expand_dims(t: _Tracer, eqn, args: list[str]) -> str:
    axes = t.w.constant(np.array(eqn.params["dimensions"], np.int64), "axes")
    return t.op("Unsqueeze", [args[0], axes])


@_rule("concatenate")
def _concatenate(t: _Tracer, eqn, args: list[str]) -> str:
    return t.op("Concat", args, axis=int(eqn.params["dimension"]))


@_rule("slice")
def _slice(t: _Tracer, eqn, args: list[str]) -> str:
    starts, limits = eqn.params["start_indices"], eqn.params["limit_indices"]
    steps = eqn.params["strides"] or (1,) * len(starts)
    sizes = eqn.invars[0].aval.shape
    # A slice to the end of a dynamic axis ends at "past the end" (INT64_MAX).
    ends = [_END if not isinstance(e, int) and e == n else e for e, n in zip(limits, sizes)]
    bounds = [t.shape(tuple(starts)), t.shape(tuple(ends))]
    axes_steps = [t.w.constant(np.array(v, np.int64)) for v in (range(len(starts)), steps)]
    return t.op("Slice", [args[0], *bounds, *axes_steps])


_END = int(np.iinfo(np.int64).max)


@_rule("pad")
def _pad(t: _Tracer, eqn, args: list[str]) -> str:
    config = eqn.params["padding_config"]
    if any(interior for _, _, interior in config):
        raise UnsupportedOpError(f"{t.where}: pad with interior padding has no ONNX mapping")
    pads = [lo for lo, _, _ in config] + [hi for _, hi, _ in config]
    return t.op("Pad", [args[0], t.w.constant(np.array(pads, np.int64), "pads"), args[1]])


@_rule("iota")
def _iota(t: _Tracer, eqn, args: list[str]) -> str:
    shape, axis = tuple(eqn.params["shape"]), int(eqn.params["dimension"])
    if not all(isinstance(d, int) for d in shape):
        raise UnsupportedOpError(f"{t.where}: iota over a dynamic dimension has no mapping")
    values = np.arange(shape[axis], dtype=eqn.params["dtype"])
    values = np.broadcast_to(
        values.reshape([-1 if a == axis else 1 for a in range(len(shape))]), shape
    )
    return t.w.constant(np.ascontiguousarray(values), "iota")


@_rule("split")
def _split(t: _Tracer, eqn, args: list[str]) -> list[str]:
    sizes = t.w.constant(np.array(eqn.params["sizes"], np.int64), "split")
    count = len(eqn.params["sizes"])
    return t.w.op("Split", [args[0], sizes], count, axis=int(eqn.params["axis"]))


# --- reductions --------------------------------------------------------------------------

_REDUCE = {
    "reduce_sum": "ReduceSum",
    "reduce_max": "ReduceMax",
    "reduce_min": "ReduceMin",
    "reduce_prod": "ReduceProd",
}


@_rule(*_REDUCE)
def _reduce(t: _Tracer, eqn, args: list[str]) -> str:
    axes = [int(a) for a in eqn.params["axes"]]
    return t.w.reduce(_REDUCE[eqn.primitive.name], args[0], axes, keepdims=False)


@_rule("argmax", "argmin")
def _argmax(t: _Tracer, eqn, args: list[str]) -> str:
    op_type = "ArgMax" if eqn.primitive.name == "argmax" else "ArgMin"
    (axis,) = eqn.params["axes"]
    index = t.op(op_type, args, axis=int(axis), keepdims=0)
    return t.op("Cast", [index], to=_elem(eqn.params["index_dtype"]))


@_rule("cumsum")
def _cumsum(t: _Tracer, eqn, args: list[str]) -> str:
    axis = t.w.constant(np.array(eqn.params["axis"], np.int64), "axis")
    return t.op("CumSum", [args[0], axis], reverse=int(bool(eqn.params.get("reverse"))))


# --- calls -------------------------------------------------------------------------------


@_rule(
    "pjit",
    "jit",
    "closed_call",
    "core_call",
    "remat",
    "checkpoint",
    "custom_jvp_call",
    "custom_vjp_call",
    "custom_vjp_call_jaxpr",
    "custom_lin",
)
def _call(t: _Tracer, eqn, args: list[str]) -> list[str]:
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        inner = eqn.params.get(key)
        if inner is not None:
            break
    else:
        raise UnsupportedOpError(f"{t.where}: call {eqn.primitive.name!r} has no inner jaxpr")
    if hasattr(inner, "jaxpr"):
        return t.run(inner.jaxpr, inner.consts, args)
    return t.run(inner, [], args)
