"""A loop's events, the handlers called on them, and the state every handler reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax

__all__ = ["EVENTS", "Handler", "LoopState"]

EVENTS = (
    "started",
    "epoch_started",
    "iteration_started",
    "iteration_completed",
    "epoch_completed",
    "epoch_halted",
    "halted",
    "completed",
)


@dataclass(frozen=True)
class Handler:
    """A function called on an event, every `every` iterations (or epochs).

    `priority` orders handlers of one event: validation (-10) runs before early
    stopping (0), checkpoints (10) last.
    """

    event: str
    fn: Callable[[LoopState], Any]
    every: int = 1
    priority: int = 0


@dataclass
class LoopState:
    """Where a running loop stands; what every handler receives.

    Attributes:
        carry: the step's pytree (for a trainer, a `TrainCarry`).
        epoch: number of the current epoch, from 1.
        epochs: how many epochs the run asked for.
        iteration: iterations run so far in all epochs.
        epoch_iteration: iterations run so far in this epoch.
        epoch_length: batches per epoch when known, else `None`.
        metrics: running averages over this epoch (`"loss"`, each metric), plus
            `"val_*"` values from validation.
        history: the final `metrics` of each completed epoch.
        handler_state: JSON-able values of built-in handlers (kept in checkpoints).
        status: `"running"`, `"epoch_halted"` or `"halted"`.
        message: why the loop halted, when it did.
    """

    carry: Any
    epochs: int
    epoch_length: int | None
    output_fn: Callable[[Any], Any] | None
    acc: dict
    epoch: int = 0
    iteration: int = 0
    epoch_iteration: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    handler_state: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    message: str | None = None
    has_loss: bool = False
    synced: bool = True

    def halt_epoch(self) -> None:
        """End this epoch after the current handler; the loop goes on with the next."""
        if self.status == "running":
            self.status = "epoch_halted"

    def halt(self, message: str | None = None) -> None:
        """End the loop after the current handler."""
        self.status, self.message = "halted", message or self.message

    @property
    def output(self) -> Any:
        """What `run` returns: the model state (trainer), the metrics (evaluator)."""
        if self.output_fn is None:
            self.sync()
            return dict(self.metrics)
        return self.output_fn(self.carry)

    def sync(self) -> None:
        """Read the metric accumulators from the device; halt on a non-finite loss."""
        if self.synced:
            return
        host = jax.device_get(self.acc)
        self.synced = True
        if int(host["count"]) > 0:
            means = dict(host["means"])
            loss = means.pop("loss")
            if self.has_loss:
                self.metrics["loss"] = float(loss)
            self.metrics.update({k: float(v) for k, v in means.items()})
        bad = int(host["first_bad"])
        if bad >= 0 and self.status != "halted":
            self.halt(
                f"Loop halted: the loss is NaN or Inf at iteration {bad} (epoch {self.epoch}). "
                "The returned state is the one before that iteration. Lower the learning "
                "rate, clip gradients (clip_norm=...) or check the data."
            )
