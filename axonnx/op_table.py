"""The op table: what function each node's `op` names.

The compiler never changes when a layer is added: a builder registers its op here
once, and the compiler calls `fn(*inputs, *params, **options)` for every node.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from axonnx.errors import InvalidModelError

__all__ = ["OpDef", "get_op", "register_op", "registered_ops"]


@dataclass(frozen=True)
class OpDef:
    """A registered op.

    Attributes:
        name: the op name nodes refer to.
        fn: the implementation, `fn(*inputs, *params, **options)`.
        takes_key: `fn` accepts a keyword `key` (a PRNG key; stochastic in train mode).
        takes_mode: `fn` accepts a keyword `mode` (`"inference"` or `"train"`).
        folds: the op may be evaluated on constants while tracing (shape arithmetic).
        broadcasts: the op follows NumPy broadcasting (ONNX ops do), so it runs with
            JAX rank promotion allowed.
        data_dependent: the output shape depends on input values (e.g. NonZero), so the
            op needs concrete inputs: it runs eagerly, between compiled segments.
        static_inputs: input positions whose values must be known while compiling
            (shapes, axes, sizes): graph inputs reaching them are baked in.
        reads_values: `False` for ops that read only their inputs' shapes (Shape).
    """

    name: str
    fn: Callable
    takes_key: bool = False
    takes_mode: bool = False
    folds: bool = True
    broadcasts: bool = False
    data_dependent: bool = False
    static_inputs: tuple[int, ...] = ()
    reads_values: bool = True


_OPS: dict[str, OpDef] = {}


def register_op(
    name: str,
    fn: Callable,
    *,
    folds: bool = True,
    broadcasts: bool = False,
    data_dependent: bool = False,
    contextual: bool = True,
    static_inputs: tuple[int, ...] = (),
    reads_values: bool = True,
) -> OpDef:
    """Register `fn` as the implementation of op `name` and return its `OpDef`.

    When `contextual`, keyword parameters named `key` and `mode` receive the PRNG key
    and the mode (ONNX ops pass False: their `mode` is an ONNX attribute).
    Registering the same name twice with a different function is an error.
    """
    params = inspect.signature(fn).parameters if contextual else {}
    op = OpDef(
        name,
        fn,
        takes_key="key" in params,
        takes_mode="mode" in params,
        folds=folds,
        broadcasts=broadcasts,
        data_dependent=data_dependent,
        static_inputs=static_inputs,
        reads_values=reads_values,
    )
    previous = _OPS.get(name)
    if previous is not None and previous.fn is not fn:
        raise ValueError(f"op {name!r} is already registered to {previous.fn!r}")
    _OPS[name] = op
    return op


def get_op(name: str) -> OpDef:
    """The `OpDef` registered as `name`; `InvalidModelError` when there is none."""
    op = _OPS.get(name)
    if op is None:
        raise InvalidModelError(
            f"unknown op {name!r}: no implementation is registered. "
            "Import the module that defines it, or register it with axonnx.op_table.register_op."
        )
    return op


def registered_ops() -> dict[str, OpDef]:
    """A copy of the op table."""
    return dict(_OPS)
