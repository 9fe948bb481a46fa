"""Built-in handlers: validation, checkpoints, early stopping, learning-rate reduction, logs.

Each factory returns a `Handler`. Handlers keep what they must remember between
epochs in `loop_state.handler_state` (JSON-able, saved in checkpoints), never in
closures, so one loop value can be run many times.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

import jax.numpy as jnp

from axonnx.loop.checkpoint import read_checkpoint, write_checkpoint
from axonnx.loop.events import Handler, LoopState
from axonnx.loop.progress import format_metrics

if TYPE_CHECKING:
    from axonnx.loop.core import Loop

__all__ = ["checkpoint", "early_stop", "log", "reduce_lr", "restore", "validation"]


def _handler(event: str, fn: Callable, every: int, priority: int = 0) -> Handler:
    if every < 1:
        raise ValueError(f"handler: expected every >= 1, got {every}")
    return Handler(event, fn, every, priority)


def validation(evaluator: Loop, data: Any, every: int) -> Handler:
    """Run `evaluator` on `data` with the current model state; store `val_*` metrics."""

    def validate(state: LoopState) -> None:
        result = evaluator.run(data, initial_state=state.output, progress=False)
        state.metrics.update({f"val_{name}": value for name, value in result.items()})

    return _handler("epoch_completed", validate, every, priority=-10)


def checkpoint(path: str, event: str, every: int) -> Handler:
    """Write the loop's position to `path` on `event`."""
    if event not in ("iteration_completed", "epoch_completed"):
        raise ValueError(
            f"checkpoint: expected event 'iteration_completed' or 'epoch_completed', got {event!r}"
        )

    def save(state: LoopState) -> None:
        done = event == "epoch_completed"
        info = {
            "epoch": state.epoch if done else state.epoch - 1,
            "epoch_iteration": 0 if done else state.epoch_iteration,
            "iteration": state.iteration,
            "metrics": state.metrics,
            "history": state.history,
            "handler_state": state.handler_state,
        }
        target = path.format(epoch=state.epoch, iteration=state.iteration)
        write_checkpoint(target, {"carry": state.carry, "acc": state.acc}, info)

    return _handler(event, save, every, priority=10)


def restore(state: LoopState, path: str, metric_names: list[str]) -> int:
    """Load a checkpoint into `state`; return how many batches of the epoch to skip."""
    trees, info = read_checkpoint(path, {"carry": state.carry, "acc": state.acc})
    state.carry, state.acc = trees["carry"], trees["acc"]
    state.epoch, state.iteration = info["epoch"], info["iteration"]
    state.epoch_iteration = info["epoch_iteration"]
    state.history, state.handler_state = info["history"], info["handler_state"]
    state.metrics = dict(info["metrics"]) if state.epoch_iteration else {}
    return state.epoch_iteration


class _Plateau:
    """Tracks the best value of a monitored metric and the epochs since it improved."""

    def __init__(self, key: str, monitor: str, mode: str, min_delta: float):
        if mode not in ("min", "max"):
            raise ValueError(f"{key}: expected mode 'min' or 'max', got {mode!r}")
        self.key, self.monitor, self.mode, self.min_delta = key, monitor, mode, min_delta

    def stalled_for(self, state: LoopState) -> int:
        """Update the record with this epoch's value; return epochs without improvement."""
        if self.monitor not in state.metrics:
            raise KeyError(
                f"{self.key}: no metric {self.monitor!r}; the loop has {sorted(state.metrics)}. "
                "Add it with .metric(...) or .validate(...)."
            )
        value = state.metrics[self.monitor]
        record = state.handler_state.setdefault(self.key, {"best": None, "wait": 0})
        if record["best"] is None or self._better(value, record["best"]):
            record["best"], record["wait"] = value, 0
        else:
            record["wait"] += 1
        return record["wait"]

    def _better(self, value: float, best: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta

    def reset(self, state: LoopState) -> None:
        state.handler_state[self.key]["wait"] = 0


def early_stop(monitor: str, patience: int, mode: str, min_delta: float) -> Handler:
    """Halt the loop when `monitor` has not improved for `patience` epochs."""
    plateau = _Plateau(f"early_stop:{monitor}", monitor, mode, min_delta)

    def check(state: LoopState) -> None:
        if plateau.stalled_for(state) >= patience:
            state.halt(
                f"Early stop: {monitor} has not improved for {patience} epochs "
                f"(best {state.handler_state[plateau.key]['best']:.6g})."
            )

    return _handler("epoch_completed", check, 1)


def reduce_lr(monitor: str, patience: int, factor: float, mode: str, min_delta: float) -> Handler:
    """Scale the trainer's updates by `factor` when `monitor` stalls for `patience` epochs."""
    plateau = _Plateau(f"reduce_lr_on_plateau:{monitor}", monitor, mode, min_delta)

    def check(state: LoopState) -> None:
        if plateau.stalled_for(state) < patience:
            return
        if not hasattr(state.carry, "lr_scale"):
            raise TypeError(
                "reduce_lr_on_plateau: expected a trainer loop (Loop.trainer); a custom "
                "step can lower its own learning rate in a handler."
            )
        state.carry = state.carry._replace(lr_scale=state.carry.lr_scale * jnp.float32(factor))
        plateau.reset(state)

    return _handler("epoch_completed", check, 1)


def log(
    fn: Callable[[LoopState], str] | None, event: str, every: int, file: IO[str] | None
) -> Handler:
    """Write `fn(state)` (default: epoch, iteration and metrics) to `file` (stderr)."""
    describe = fn or _describe

    def write(state: LoopState) -> None:
        stream = file or sys.stderr
        stream.write(describe(state) + "\n")

    return _handler(event, write, every)


def _describe(state: LoopState) -> str:
    return f"epoch {state.epoch} iteration {state.iteration}: {format_metrics(state.metrics)}"
