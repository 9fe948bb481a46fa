"""One epoch of a `Loop`: the compiled step with its metric updates and non-finite
guard, the batches of an epoch, and the handlers fired on each event.

The host syncs with the device only when a handler or the progress display needs the
values, and every `SYNC_EVERY` iterations, so the device is never left waiting on Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp

from axonnx import metrics as metrics_module
from axonnx.loop.events import Handler, LoopState

__all__ = ["SYNC_EVERY", "epoch_data", "fire", "fresh_acc", "run_epoch", "wrap_step"]


SYNC_EVERY = 100


def fresh_acc(names: Iterable[str], iteration: int, first_bad: int = -1) -> dict:
    """Metric accumulators for a new epoch (device scalars)."""
    return {
        "means": {name: jnp.zeros((), jnp.float32) for name in ("loss", *names)},
        "count": jnp.asarray(0, jnp.int32),
        "iteration": jnp.asarray(iteration, jnp.int32),
        "first_bad": jnp.asarray(first_bad, jnp.int32),
    }


def wrap_step(step_fn: Callable, metric_fns: dict, guard: bool, traced: dict) -> Callable:
    """The compiled function: the step, the metric updates and the non-finite guard."""

    def wrapped(carry, acc, batch):
        new_carry, out = step_fn(carry, batch)
        traced["has_loss"] = "loss" in out
        values = {"loss": out.get("loss", jnp.zeros(()))}
        values.update({n: fn(out["y_true"], out["y_pred"]) for n, fn in metric_fns.items()})
        values = {n: jnp.asarray(v, jnp.float32).reshape(()) for n, v in values.items()}
        first_bad = acc["first_bad"]
        if guard and "loss" in out:
            finite = jnp.isfinite(values["loss"])
            ok = finite & (first_bad < 0)
            new_carry = jax.tree.map(lambda n, o: jnp.where(ok, n, o), new_carry, carry)
            first_bad = jnp.where(~finite & (first_bad < 0), acc["iteration"] + 1, first_bad)
        means = metrics_module.running_average(acc["means"], values, acc["count"])
        return new_carry, {
            "means": means,
            "count": acc["count"] + 1,
            "iteration": acc["iteration"] + 1,
            "first_bad": first_bad,
        }

    return wrapped


def run_epoch(state, batches, step, iterations, parallel, display, by_event) -> None:
    for batch in batches:
        if iterations is not None and state.epoch_iteration >= iterations:
            break
        state.iteration += 1
        state.epoch_iteration += 1
        fire(by_event, "iteration_started", state)
        step(state, parallel.shard(batch) if parallel else batch)
        if state.iteration % SYNC_EVERY == 0:
            state.sync()
        fire(by_event, "iteration_completed", state)
        if display and display.due():
            state.sync()
            display.update(state)
        if state.status != "running":
            break


def fire(by_event: dict[str, list[Handler]], event: str, state: LoopState) -> None:
    count = state.iteration if event.startswith("iteration") else state.epoch
    for handler in by_event[event]:
        if count % handler.every:
            continue
        state.sync()
        if state.status == "halted" and event not in ("halted", "completed"):
            return
        handler.fn(state)


def epoch_data(data: Any, epoch: int) -> Iterable:
    if callable(data):
        return data(epoch)
    if isinstance(data, Iterable):
        return data
    raise TypeError(
        f"run: expected data as an iterable of batches or fn(epoch) -> iterable, got "
        f"{type(data).__name__}."
    )
