"""The jaxpr writer: a table of primitive rules and the tracer that applies them.

Each rule takes the tracer, the jaxpr equation and the ONNX names of its inputs, and
returns the name (or names) of its outputs. Rules live in one module per primitive
family of this package and register with `rule`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from jax import ShapeDtypeStruct
from jax.extend.core import Literal
from onnx import helper

from axonnx.converters.onnx_writer import Writer
from axonnx.errors import UnsupportedOpError

__all__ = ["FLAG", "FORMS", "PRIMITIVES", "Tracer", "elem", "loop_inputs", "rule"]

Rule = Callable[["Tracer", Any, list[str]], list[str] | str]
PRIMITIVES: dict[str, Rule] = {}
FORMS: dict[str, str] = {}
"""The ONNX form of each primitive, for docs/export.md."""


def rule(*names: str, onnx: str) -> Callable[[Rule], Rule]:
    """Register the rule of the jaxpr primitives `names`; `onnx` says what it writes."""

    def register(fn: Rule) -> Rule:
        for name in names:
            PRIMITIVES[name] = fn
            FORMS[name] = onnx
        return fn

    return register


_STEP = ShapeDtypeStruct((), np.int64)
"""The aval of a Loop body's iteration number."""
FLAG = ShapeDtypeStruct((), np.bool_)
"""The aval of a Loop's condition."""


def loop_inputs(carry_avals: list) -> list[tuple[str, Any]]:
    """A Loop body's inputs for `Tracer.subgraph`: the iteration number, the condition,
    then the carried values."""
    return [("i", _STEP), ("go", FLAG)] + [(f"carry{k}", a) for k, a in enumerate(carry_avals)]


def elem(dtype: Any) -> int:
    """The ONNX element type of a NumPy/JAX dtype."""
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class Tracer:
    """Writes one jaxpr (and the jaxprs it calls) into a `Writer`.

    `dims` maps each symbolic dimension to the (value, axis) whose `Shape` gives it.
    """

    def __init__(self, w: Writer, where: str, dims: dict[str, tuple[str, int]]):
        self.w, self.where, self.dims, self.sizes = w, where, dims, {}

    def run(self, jaxpr, consts: list, args: list[str]) -> list[str]:
        """Write `jaxpr` on the values `args`; return the names of its outputs."""
        env: dict[Any, str] = {}
        for var, value in zip(jaxpr.constvars, consts):
            env[var] = self.w.constant(np.asarray(value), "const")
        for var, name in zip(jaxpr.invars, args):
            env[var] = name
        for eqn in jaxpr.eqns:
            fn = PRIMITIVES.get(eqn.primitive.name)
            if fn is None:
                raise UnsupportedOpError(
                    f"{self.where}: the jaxpr primitive {eqn.primitive.name!r} has no ONNX "
                    f"mapping (mapped: {', '.join(sorted(PRIMITIVES))})"
                )
            out = fn(self, eqn, [self.read(env, v) for v in eqn.invars])
            for var, name in zip(eqn.outvars, [out] if isinstance(out, str) else out):
                env[var] = name
        return [self.read(env, v) for v in jaxpr.outvars]

    def run_closed(self, closed, args: list[str]) -> list[str]:
        """Write a closed jaxpr (or a bare one) on `args`."""
        if hasattr(closed, "jaxpr"):
            return self.run(closed.jaxpr, closed.consts, args)
        return self.run(closed, [], args)

    def read(self, env: dict, var: Any) -> str:
        if isinstance(var, Literal):
            return self.w.constant(np.asarray(var.val, var.aval.dtype), "literal")
        return env[var]

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        """One ONNX node with one output."""
        return self.w.op(op_type, inputs, **attrs)[0]

    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        """A constant (of `dtype`, by default its own)."""
        return self.w.constant(np.asarray(value, dtype), hint)

    def ints(self, values: Any) -> str:
        """A 1-D int64 constant."""
        return self.w.constant(np.asarray(values, np.int64).reshape(-1), "ints")

    def concat(self, parts: list[str], axis: int) -> str:
        """`parts` joined along `axis` (a single part as it is, without a node)."""
        return parts[0] if len(parts) == 1 else self.op("Concat", parts, axis=axis)

    def cast(self, name: str, dtype: Any) -> str:
        return self.op("Cast", [name], to=elem(dtype))

    def static(self, aval: Any, what: str) -> tuple[int, ...]:
        """The shape of `aval`, which must be static for `what`."""
        shape = tuple(aval.shape)
        if not all(isinstance(d, int) for d in shape):
            raise UnsupportedOpError(
                f"{self.where}: {what} needs static shapes, got {shape}; export with static "
                "input shapes"
            )
        return shape

    def shape(self, dims: tuple, reshape: bool = False) -> str:
        """A 1-D int64 shape tensor; symbolic dimensions come from the inputs' `Shape`
        (or, for one reshape dimension, -1)."""
        dims = tuple(int(d) if isinstance(d, np.integer) else d for d in dims)
        if all(isinstance(d, int) for d in dims):
            return self.w.constant(np.array(dims, np.int64), "shape")
        symbolic = [d for d in dims if not isinstance(d, int)]
        if reshape and len(symbolic) == 1 and str(symbolic[0]) not in self.dims:
            return self.w.constant(np.array([d if isinstance(d, int) else -1 for d in dims]))
        parts = [self.ints([d]) if isinstance(d, int) else self.size(d) for d in dims]
        return self.w.op("Concat", parts, axis=0)[0]

    def size(self, dim: Any) -> str:
        """A 1-D int64 tensor holding the value of the symbolic dimension `dim`."""
        key = str(dim)
        if key not in self.dims:
            raise UnsupportedOpError(
                f"{self.where}: the traced function computes a shape from the dynamic "
                f"dimension {key!r}; give the input a static shape"
            )
        if key not in self.sizes:
            value, axis = self.dims[key]
            shape = self.w.op("Shape", [value])[0]
            self.sizes[key] = self.w.op("Gather", [shape, self.ints([axis])], axis=0)[0]
        return self.sizes[key]

    def subgraph(
        self, name: str, inputs: list[tuple[str, Any]], body: Callable[[Tracer, list[str]], list]
    ) -> tuple[Any, list[str]]:
        """A GraphProto for If/Loop: `inputs` are (hint, aval) pairs, `body` writes the
        nodes given the inputs' names and returns (name, aval) outputs. Constants are
        written to the enclosing graph (the body reads them from the outer scope)."""
        inner = Writer(self.w.opset, self.w.plan, self.w.state, taken=self.w.taken)
        sub = Tracer(inner, self.where, self.dims)
        sub.sizes = dict(self.sizes)
        names = [inner.fresh(hint) for hint, _ in inputs]
        outputs = body(sub, names)
        infos = []
        for produced, aval in outputs:
            out = inner.fresh(f"{name}_out")
            inner.op("Identity", [produced], [out])
            infos.append(value_info(out, aval))
        self.w.initializers.extend(inner.initializers)
        self.w.written.update(inner.written)
        in_infos = [value_info(n, aval) for n, (_, aval) in zip(names, inputs)]
        return helper.make_graph(inner.nodes, name, in_infos, infos), names


def value_info(name: str, aval: Any):
    """A typed ValueInfo (dynamic dimensions unnamed)."""
    dims = [d if isinstance(d, int) else None for d in aval.shape]
    return helper.make_tensor_value_info(name, elem(aval.dtype), dims)
