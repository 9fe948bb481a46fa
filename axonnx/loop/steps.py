"""Step factories: the pure `(init, step, output)` functions behind trainers and evaluators.

A step is `step(carry, batch) -> (carry, outputs)`: `carry` is a pytree the loop
threads from batch to batch (donated to the compiled step), `outputs` a dict that may
hold `"loss"`, `"y_true"` and `"y_pred"` (read by metrics). Batches are
`(inputs, targets)`, where `inputs` is anything `predict` accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from axonnx import losses
from axonnx.engine import build
from axonnx.freezing import frozen_paths, merge_params, split_params
from axonnx.loop.precision import (
    DynamicScale,
    all_finite,
    cast_outputs,
    uses_float16,
    with_compute_dtype,
)
from axonnx.node import Node
from axonnx.state import ModelState

__all__ = ["Steps", "TrainCarry", "evaluator_steps", "make_optimizer", "trainer_steps"]


class Steps(NamedTuple):
    """The functions a loop is made of.

    Attributes:
        init: `init(initial_state) -> carry`.
        step: `step(carry, batch) -> (carry, outputs)`, pure and jittable.
        output: `output(carry) -> result` returned by `Loop.run`; `None` to return
            the metrics instead (evaluators).
    """

    init: Callable[[Any], Any]
    step: Callable[[Any, Any], tuple[Any, dict]]
    output: Callable[[Any], Any] | None


class TrainCarry(NamedTuple):
    """What a trainer threads through its steps.

    Attributes:
        params: trainable parameters (frozen ones removed).
        frozen: frozen parameters, never updated.
        state: non-trainable model state (batch-norm statistics, ...).
        opt_state: the optimizer state, for `params` only.
        step: int32 count of steps taken (seeds the step's random key).
        lr_scale: float32 factor on every update (`reduce_lr_on_plateau` lowers it).
        loss_scale: `DynamicScale` for float16 training, else `None`.
    """

    params: dict
    frozen: dict
    state: dict
    opt_state: Any
    step: jax.Array
    lr_scale: jax.Array
    loss_scale: DynamicScale | None


def make_optimizer(
    optimizer: str | optax.GradientTransformation,
    *,
    learning_rate: float | optax.Schedule | None = None,
    clip_norm: float | None = None,
    accumulate: int = 1,
) -> optax.GradientTransformation:
    """An optax transformation from a name (`"adamw"`) or a transformation, with options.

    Clipping (`optax.clip_by_global_norm`) comes first; gradient accumulation wraps the
    whole in `optax.MultiSteps` (parameters change every `accumulate` steps).
    """
    if isinstance(optimizer, str):
        factory = getattr(optax, optimizer, None)
        if factory is None or learning_rate is None:
            raise ValueError(
                f"trainer: expected an optax optimizer name with learning_rate=..., got "
                f"{optimizer!r} and learning_rate={learning_rate!r}. E.g. "
                "Loop.trainer(model, loss, 'adam', learning_rate=1e-3)."
            )
        optimizer = factory(learning_rate)
    if clip_norm is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(clip_norm), optimizer)
    if accumulate > 1:
        optimizer = optax.MultiSteps(optimizer, every_k_schedule=accumulate)
    return optimizer


def split_batch(batch: Any) -> tuple[Any, Any]:
    """`(inputs, targets)` from a batch; a clear error for anything else."""
    if isinstance(batch, tuple | list) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(
        f"loop: expected each batch as a pair (inputs, targets), got {type(batch).__name__}. "
        "Yield (x, y) tuples from the data."
    )


def trainer_steps(
    model: Node,
    loss: str | Callable,
    optimizer: optax.GradientTransformation,
    *,
    seed: int = 0,
    compute_dtype: str | None = None,
    loss_scale: str | float | None = "auto",
) -> Steps:
    """The steps of a trainer; see `Loop.trainer`."""
    if compute_dtype is not None:
        model = with_compute_dtype(model, compute_dtype)
    loss_fn = losses.get(loss)
    frozen = frozen_paths(model)
    init_model, predict = build(model, mode="train", seed=seed)
    init_model = jax.jit(init_model)
    dynamic, initial_scale = _loss_scaling(loss_scale, model)

    def init(initial: Any) -> TrainCarry:
        state = _model_state(init_model, initial)
        params, fixed = split_params(state.params, frozen)
        scale = DynamicScale.create(initial_scale) if dynamic else None
        carry = TrainCarry(
            params,
            fixed,
            state.state,
            optimizer.init(params),
            jnp.asarray(0, jnp.int32),
            jnp.asarray(1.0, jnp.float32),
            scale,
        )
        return jax.tree.map(jnp.array, carry)  # a copy: the step donates it

    def objective(trainable, carry, x, y, key):
        params = merge_params(trainable, carry.frozen)
        y_pred, new_state = predict(ModelState(params, carry.state), x, key=key)
        y_pred = cast_outputs(y_pred)
        value = loss_fn(y, y_pred)
        scaled = carry.loss_scale.scale_loss(value) if dynamic else value
        return scaled, (value, y_pred, new_state)

    def step(carry: TrainCarry, batch: Any) -> tuple[TrainCarry, dict]:
        x, y = split_batch(batch)
        key = jax.random.fold_in(jax.random.key(seed), carry.step)
        grads, (value, y_pred, new_state) = jax.grad(objective, has_aux=True)(
            carry.params, carry, x, y, key
        )
        if dynamic:
            grads = carry.loss_scale.unscale(grads)
        updates, opt_state = optimizer.update(grads, carry.opt_state, carry.params)
        updates = jax.tree.map(lambda u: u * carry.lr_scale.astype(u.dtype), updates)
        new = carry._replace(
            params=optax.apply_updates(carry.params, updates),
            state=new_state,
            opt_state=opt_state,
            step=carry.step + 1,
        )
        if dynamic:
            new = _skip_on_overflow(carry, new, all_finite(grads))
        return new, {"loss": value, "y_true": y, "y_pred": y_pred}

    return Steps(init, step, trainer_output)


def _loss_scaling(loss_scale: str | float | None, model: Node) -> tuple[bool, float]:
    """`(dynamic, initial scale)` from the trainer's `loss_scale` option."""
    if loss_scale is None:
        return False, 1.0
    if isinstance(loss_scale, str):
        if loss_scale not in ("auto", "dynamic"):
            raise ValueError(
                f"trainer: expected loss_scale 'auto', 'dynamic', a number or None, "
                f"got {loss_scale!r}."
            )
        return loss_scale == "dynamic" or uses_float16(model), 2.0**15
    return True, float(loss_scale)


def _skip_on_overflow(old: TrainCarry, new: TrainCarry, finite: jax.Array) -> TrainCarry:
    """Keep `old` parameters, state and optimizer state when the gradients overflowed."""
    keep = lambda a, b: jax.tree.map(lambda u, v: jnp.where(finite, u, v), a, b)  # noqa: E731
    return new._replace(
        params=keep(new.params, old.params),
        state=keep(new.state, old.state),
        opt_state=keep(new.opt_state, old.opt_state),
        loss_scale=old.loss_scale.adjust(finite),
    )


def trainer_output(carry: TrainCarry) -> ModelState:
    """The model state held by a trainer's carry (trainable and frozen merged)."""
    return ModelState(merge_params(carry.params, carry.frozen), carry.state)


def _model_state(init_model: Callable, initial: Any) -> ModelState:
    if initial is None:
        return init_model()
    if isinstance(initial, ModelState):
        return initial
    return init_model(initial)


def evaluator_steps(model: Node, *, loss: str | Callable | None = None) -> Steps:
    """The steps of an evaluator; see `Loop.evaluator`."""
    _, predict = build(model)
    loss_fn = None if loss is None else losses.get(loss)

    def init(initial: Any) -> ModelState:
        if not isinstance(initial, ModelState):
            raise TypeError(
                "evaluator: expected initial_state=<the ModelState to evaluate>, got "
                f"{type(initial).__name__}."
            )
        return initial

    def step(carry: ModelState, batch: Any) -> tuple[ModelState, dict]:
        x, y = split_batch(batch)
        y_pred = cast_outputs(predict(carry, x))
        outputs = {"y_true": y, "y_pred": y_pred}
        if loss_fn is not None:
            outputs["loss"] = loss_fn(y, y_pred)
        return carry, outputs

    return Steps(init, step, None)
