"""Evaluate a graph: initialize its parameters, run its nodes in order.

`axonnx.engine` compiles what this module evaluates."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from axonnx import initializers
from axonnx.errors import AxonnxError, InvalidModelError, LayerError, ShapeError
from axonnx.node import Node, ParamSpec
from axonnx.op_table import get_op
from axonnx.plan import Plan, plan
from axonnx.policy import cast_floats
from axonnx.state import ModelState, get_path, set_path

__all__ = ["MODES", "bind_inputs", "evaluate", "init", "init_fn", "run"]

MODES = ("inference", "train")


def init_fn(plan_: Plan, seed: int = 0) -> Callable[..., ModelState]:
    """`init_fn(initial=None) -> ModelState` for a laid-out graph (see `axonnx.build`)."""
    return functools.partial(_init, plan_, seed)


def _param_key(seed: int, path: tuple[str, ...]) -> jax.Array:
    return jax.random.fold_in(jax.random.key(seed), zlib.crc32("/".join(path).encode()))


def _make_param(spec: ParamSpec, seed: int, path: tuple[str, ...], dtype: str) -> jax.Array:
    init = _initializer(spec.initializer)
    return init(_param_key(seed, path), spec.shape, jnp.dtype(dtype))


def _initializer(spec: Any) -> Callable:
    """An initializer from a name, a `{"name": ..., **hyper_parameters}` dict or a callable."""
    if isinstance(spec, Mapping):
        options = dict(spec)
        return getattr(initializers, options.pop("name"))(**options)
    return initializers.get(spec)


def _specs(plan_: Plan):
    """Yield `(node, spec, path)` for every parameter and state value of the model."""
    for node in plan_.order:
        if node.op == "param":
            yield node, node.params[0], plan_.key_of(node)
        for spec in node.params if node.op != "param" else ():
            yield node, spec, plan_.key_of(node) + (spec.name,)


def _init(plan_: Plan, seed: int, initial: Any = None) -> ModelState:
    initial = _as_state(initial)
    trees: ModelState = ModelState({}, {})
    for node, spec, path in _specs(plan_):
        dtype = node.policy.params if node.policy else spec.dtype
        tree, given = _target(trees, initial, spec)
        value = get_path(given, path)
        if value is None:
            try:
                value = _make_param(spec, seed, path, dtype)
            except (TypeError, ValueError) as error:
                raise ShapeError(
                    f"{plan_.where(node)}: cannot initialize {spec.name!r} "
                    f"of shape {tuple(spec.shape)}: {error}"
                ) from error
        else:
            value = _check_initial(plan_, node, spec, value, dtype)
        set_path(tree, path, value)
    return trees


def _as_state(initial: Any) -> ModelState:
    if initial is None:
        return ModelState({}, {})
    if isinstance(initial, ModelState):
        return initial
    if isinstance(initial, Mapping):
        return ModelState(dict(initial), dict(initial))
    raise TypeError(f"init: expected initial values as a dict or ModelState, got {type(initial)}")


def _target(trees: ModelState, initial: ModelState, spec: ParamSpec):
    if spec.kind == "state":
        return trees.state, initial.state
    return trees.params, initial.params


def _check_initial(plan_: Plan, node: Node, spec: ParamSpec, value: Any, dtype: str) -> jax.Array:
    shape = tuple(np.shape(value))
    if shape != tuple(spec.shape):
        raise ShapeError(
            f"{plan_.where(node)}: expected initial value of {spec.name!r} with shape "
            f"{tuple(spec.shape)}, got {shape}."
        )
    return jnp.asarray(value, dtype=dtype)


def run(
    plan_: Plan,
    state: ModelState,
    inputs: Any,
    *,
    mode: str = "inference",
    key: jax.Array | None = None,
    keep: Callable[[Node], bool] | None = None,
) -> tuple[Any, dict, dict[int, Any]]:
    """Evaluate a laid-out graph; return `(outputs, new_state, kept)`.

    `kept` maps node id → value for every node where `keep(node)` is true (used to
    compare intermediate values when bisecting a mismatch).
    """
    if not isinstance(state, ModelState):
        raise TypeError("predict: expected the ModelState returned by init as `state`")
    values: dict[int, Any] = bind_inputs(plan_, inputs)
    new_state = jax.tree_util.tree_map(lambda v: v, state.state)
    kept: dict[int, Any] = {}
    for index, node in enumerate(plan_.order):
        evaluate(plan_, index, values, state, new_state, mode=mode, key=key)
        if keep is not None and keep(node):
            kept[node.id] = values[node.id]
    return values[plan_.output.id], new_state, kept


def evaluate(
    plan_: Plan,
    index: int,
    values: dict[int, Any],
    state: ModelState,
    new_state: dict,
    *,
    mode: str = "inference",
    key: jax.Array | None = None,
) -> None:
    """Compute node `plan_.order[index]` into `values` (node id → value) unless it is
    there already; its parents' values must be. Train-mode state updates go into
    `new_state`. An error raised by the node's op carries the node's id as `node_id`."""
    node = plan_.order[index]
    if node.id not in values:
        try:
            values[node.id] = _run_node(plan_, node, index, values, state, new_state, mode, key)
        except AxonnxError as error:
            error.node_id = node.id
            raise


def bind_inputs(plan_: Plan, inputs: Any) -> dict[int, Any]:
    """Input node id → value, from an array (one input), a tuple in input order or a
    dict by input name; shapes are checked against the input specs."""
    nodes = plan_.inputs
    if isinstance(inputs, Mapping):
        missing = [plan_.names[n.id] for n in nodes if plan_.names[n.id] not in inputs]
        if missing:
            raise InvalidModelError(f"predict: missing inputs {missing}; got {sorted(inputs)}")
        given = [inputs[plan_.names[n.id]] for n in nodes]
    elif isinstance(inputs, tuple | list):
        given = list(inputs)
    else:
        given = [inputs]
    if len(given) != len(nodes):
        raise InvalidModelError(
            f"predict: the model has {len(nodes)} inputs "
            f"{[plan_.names[n.id] for n in nodes]}, got {len(given)}."
        )
    return {n.id: _check_input(plan_, n, v) for n, v in zip(nodes, given, strict=True)}


def _check_input(plan_: Plan, node: Node, value: Any) -> Any:
    spec = node.options.get("shape")
    if spec is None or value is None:
        return value
    shape = np.shape(value)
    fits = len(shape) == len(spec) and all(s is None or s == d for s, d in zip(spec, shape))
    if not fits:
        raise ShapeError(
            f"input {plan_.names[node.id]!r}: expected shape {_show(spec)}, got {shape}."
        )
    return value


def _show(shape) -> str:
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def _layer_params(plan_: Plan, node: Node, state: ModelState, new_state: dict) -> list:
    path = plan_.key_of(node)
    if node.op == "param":
        trees = new_state if node.params[0].kind == "state" else state.params
        return [_lookup(plan_, node, trees, path)]
    return [
        _lookup(plan_, node, new_state if s.kind == "state" else state.params, path + (s.name,))
        for s in node.params
    ]


def _lookup(plan_: Plan, node: Node, tree: dict, path: tuple[str, ...]) -> Any:
    value = get_path(tree, path)
    if value is None:
        raise InvalidModelError(
            f"{plan_.where(node)}: no value for parameter {'/'.join(path)!r} in the state. "
            "Was the state made by init for this model?"
        )
    return value


def _run_node(plan_, node, index, values, state, new_state, mode, key):
    params = _layer_params(plan_, node, state, new_state)
    if node.op == "param":
        return params[0]
    args = [values[p.id] for p in node.parents]
    try:
        return _call(plan_, node, index, args, params, new_state, mode, key)
    except AxonnxError as error:
        if str(error).startswith(plan_.where(node)):
            raise
        raise type(error)(f"{plan_.where(node)}: {error}") from error
    except (TypeError, ValueError, IndexError) as error:
        raise LayerError(f"{plan_.where(node)}: {error}") from error


def _call(plan_, node, index, args, params, new_state, mode, key):
    op = get_op(node.op)
    kwargs = dict(node.options)
    if op.takes_mode:
        kwargs["mode"] = mode
    if op.takes_key and mode == "train":
        if key is None:
            raise ValueError("this layer is random in train mode: pass predict_fn(..., key=...)")
        kwargs["key"] = jax.random.fold_in(key, index)
    args, params = _apply_policy(node, args, params)
    if op.folds and not params and all(_is_concrete(a) for a in args):
        with jax.ensure_compile_time_eval(), jax.numpy_rank_promotion(_promotion(op)):
            result = op.fn(*args, **kwargs)
    else:
        with jax.numpy_rank_promotion(_promotion(op)):
            result = op.fn(*args, *params, **kwargs)
    return _split_updates(plan_, node, result, new_state, mode)


def _promotion(op) -> str:
    return "allow" if op.broadcasts else jax.config.jax_numpy_rank_promotion


def _is_concrete(value: Any) -> bool:
    return not any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(value))


def _split_updates(plan_, node, result, new_state, mode):
    has_state = any(s.kind == "state" for s in node.params)
    if not (has_state and mode == "train"):
        return _cast_output(node, result)
    output, updates = result
    for name, value in updates.items():
        path = plan_.key_of(node) + (name,)
        old = get_path(new_state, path)  # keep the stored dtype under a compute policy
        set_path(new_state, path, value if old is None else jnp.asarray(value, old.dtype))
    return _cast_output(node, output)


def _apply_policy(node: Node, args: list, params: list) -> tuple[list, list]:
    if node.policy is None:
        return args, params
    dtype = jnp.dtype(node.policy.compute)
    return cast_floats(args, dtype), cast_floats(params, dtype)


def _cast_output(node: Node, value: Any) -> Any:
    if node.policy is None:
        return value
    return cast_floats(value, jnp.dtype(node.policy.output))


def init(model: Node, initial: Any = None, *, seed: int = 0) -> ModelState:
    """Initialize `model`'s parameters and state (see `axonnx.build`).

    >>> import axonnx as ax
    >>> state = ax.init(ax.input("x", shape=(None, 3)).dense(2))
    >>> state.params["dense_0"]["kernel"].shape
    (3, 2)
    """
    return _init(plan(model), seed, initial)
