"""The `Loop` value, its events and `run`.

A loop is a value built by chaining (each method returns a new loop), then run over
data. Its step is compiled once with `jax.jit` (the carry and the metric
accumulators are donated); the host reads results back from the device only when a
handler fires, the progress bar redraws, at the end of an epoch, or every
`epochs.SYNC_EVERY` iterations, so the device is never left waiting on Python.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any

import jax
import jax.numpy as jnp
import optax

from axonnx import metrics as metrics_module
from axonnx.loop import handlers
from axonnx.loop.epochs import epoch_data, fire, fresh_acc, run_epoch, wrap_step
from axonnx.loop.events import EVENTS, Handler, LoopState
from axonnx.loop.parallel import DataParallel
from axonnx.loop.progress import Progress
from axonnx.loop.steps import Steps, evaluator_steps, make_optimizer, trainer_steps
from axonnx.node import Node

__all__ = ["EVENTS", "Handler", "Loop", "LoopState"]


@dataclass(frozen=True)
class Loop:
    """An event-driven loop over batches: a step, metrics and handlers.

    Build one with `Loop.trainer`, `Loop.evaluator` or `Loop.loop`, instrument it
    by chaining, then `run` it.

    >>> import axonnx as ax, numpy as np, optax
    >>> model = ax.input("x", shape=(None, 2)).dense(1)
    >>> x = np.ones((8, 2), np.float32); y = np.zeros((8, 1), np.float32)
    >>> state = (ax.Loop.trainer(model, "mean_squared_error", optax.sgd(0.1))
    ...            .run([(x, y)] * 4, epochs=2, progress=False))
    >>> sorted(state.params["dense_0"])
    ['bias', 'kernel']
    """

    steps: Steps
    metrics: tuple[tuple[str, Callable], ...] = ()
    handlers: tuple[Handler, ...] = ()
    donate: bool = True
    guard: bool = True
    loss: Callable | str | None = None
    _cache: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    # -- factories -----------------------------------------------------------------

    @classmethod
    def trainer(
        cls,
        model: Node,
        loss: str | Callable,
        optimizer: str | optax.GradientTransformation,
        *,
        learning_rate: float | optax.Schedule | None = None,
        accumulate: int = 1,
        clip_norm: float | None = None,
        compute_dtype: str | None = None,
        loss_scale: str | float | None = "auto",
        seed: int = 0,
    ) -> Loop:
        """A loop that trains `model` by minimizing `loss` with an optax optimizer.

        Args:
            model: the model; frozen layers (`ax.freeze`) are not trained.
            loss: a name from `axonnx.losses` or `loss(y_true, y_pred) -> scalar`
                (e.g. `functools.partial(ax.losses.categorical_cross_entropy,
                from_logits=True)`).
            optimizer: any optax `GradientTransformation`, or an optax name
                (`"adamw"`) with `learning_rate` (a float or an optax schedule).
            learning_rate: with an optimizer name only.
            accumulate: average gradients over this many batches per update
                (`optax.MultiSteps`).
            clip_norm: clip gradients to this global norm (`optax.clip_by_global_norm`).
            compute_dtype: `"bfloat16"` or `"float16"`: every layer computes in it,
                parameters stay float32, loss and metrics run in float32.
            loss_scale: `"auto"` (dynamic scaling when a layer computes in float16),
                `"dynamic"`, an initial scale (dynamic), or `None`. Overflowing steps
                are skipped.
            seed: seeds parameter initialization and dropout (per step).

        Returns:
            A loop whose batches are `(inputs, targets)` and whose `run` returns the
            trained `ModelState`.
        """
        optimizer = make_optimizer(
            optimizer, learning_rate=learning_rate, clip_norm=clip_norm, accumulate=accumulate
        )
        steps = trainer_steps(
            model, loss, optimizer, seed=seed, compute_dtype=compute_dtype, loss_scale=loss_scale
        )
        return cls(steps, loss=loss)

    @classmethod
    def evaluator(cls, model: Node, *, loss: str | Callable | None = None) -> Loop:
        """A loop that runs `model` in inference mode; `run` returns the metrics.

        `run(data, initial_state=state)` takes the `ModelState` to evaluate.
        """
        return cls(evaluator_steps(model, loss=loss), donate=False, guard=False, loss=loss)

    @classmethod
    def loop(
        cls,
        step: Callable[[Any, Any], tuple[Any, dict]],
        init: Callable[[Any], Any] | None = None,
        output: Callable[[Any], Any] | None = None,
    ) -> Loop:
        """A loop over a step of your own.

        Args:
            step: `step(carry, batch) -> (carry, outputs)`, pure and jittable;
                `outputs` is a dict that may hold `"loss"` (halts when not finite),
                `"y_true"` and `"y_pred"` (read by metrics).
            init: `init(initial_state) -> carry`; the identity when omitted.
            output: `output(carry) -> result` of `run`; the carry when omitted.
        """
        first = init or (lambda s: s)

        def start(initial: Any) -> Any:
            return jax.tree.map(jnp.array, first(initial))  # a copy: the step donates it

        return cls(Steps(start, step, output or (lambda c: c)))

    # -- instrumentation -----------------------------------------------------------

    def metric(self, metric: str | Callable, name: str | None = None) -> Loop:
        """Track the running average over each epoch of `metric(y_true, y_pred)`.

        `metric` is a name from `axonnx.metrics` or a function returning a scalar.
        """
        fn = metrics_module.get(metric)
        label = name or (metric if isinstance(metric, str) else fn.__name__)
        if label == "loss" or label in dict(self.metrics):
            raise ValueError(f"metric: the name {label!r} is taken; pass name=...")
        return replace(self, metrics=self.metrics + ((label, fn),))

    def handle(self, event: str, fn: Callable[[LoopState], Any], *, every: int = 1) -> Loop:
        """Call `fn(loop_state)` on `event`, every `every` iterations (or epochs).

        The handler may read `loop_state.metrics`, replace `loop_state.carry`, and
        call `loop_state.halt_epoch()` or `loop_state.halt()`.
        """
        if event not in EVENTS:
            raise ValueError(f"handle: expected an event in {EVENTS}, got {event!r}")
        return self._with(Handler(event, fn, every))

    def validate(self, model: Node, data: Any, *, every: int = 1) -> Loop:
        """After every `every` epochs, evaluate `model` with the current state on `data`.

        Adds `val_loss` and `val_<metric>` to `metrics` (and to the history).
        """
        evaluator = Loop.evaluator(model, loss=self.loss)
        evaluator = replace(evaluator, metrics=self.metrics)
        return self._with(handlers.validation(evaluator, data, every))

    def checkpoint(self, path: str, *, event: str = "epoch_completed", every: int = 1) -> Loop:
        """Write a checkpoint to `path` (atomically) on `event`, every `every` times.

        `path` may name `{epoch}` and `{iteration}`. Resume with `run(..., resume=path)`.
        """
        return self._with(handlers.checkpoint(path, event, every))

    def early_stop(
        self, monitor: str, *, patience: int = 3, mode: str = "min", min_delta: float = 0.0
    ) -> Loop:
        """Halt when `metrics[monitor]` has not improved for `patience` epochs."""
        return self._with(handlers.early_stop(monitor, patience, mode, min_delta))

    def reduce_lr_on_plateau(
        self,
        monitor: str,
        *,
        patience: int = 3,
        factor: float = 0.1,
        mode: str = "min",
        min_delta: float = 0.0,
    ) -> Loop:
        """Multiply every update by `factor` when `monitor` stalls for `patience` epochs."""
        return self._with(handlers.reduce_lr(monitor, patience, factor, mode, min_delta))

    def log(
        self,
        fn: Callable[[LoopState], str] | None = None,
        *,
        event: str = "epoch_completed",
        every: int = 1,
        file: IO[str] | None = None,
    ) -> Loop:
        """Write `fn(loop_state)` (by default the epoch, iteration and metrics) on `event`."""
        return self._with(handlers.log(fn, event, every, file))

    def _with(self, handler: Handler) -> Loop:
        loop = replace(self, handlers=self.handlers + (handler,))
        object.__setattr__(loop, "_cache", self._cache)  # same step: share its compilation
        return loop

    # -- running -------------------------------------------------------------------

    def run(
        self,
        data: Any,
        *,
        epochs: int = 1,
        iterations: int | None = None,
        initial_state: Any = None,
        resume: str | None = None,
        progress: bool | IO[str] = True,
        data_parallel: bool | Sequence[jax.Device] = False,
        return_loop_state: bool = False,
    ) -> Any:
        """Run the loop over `data`; return the final state (and the `LoopState`).

        Args:
            data: an iterable of batches, re-iterated each epoch (a list, a
                generator function's result is used once), or `fn(epoch) -> iterable`
                with `epoch` from 0. Batches are arrays, tuples or dicts of arrays.
            epochs: number of epochs (in total, when resuming).
            iterations: at most this many batches per epoch.
            initial_state: what the loop starts from (a trainer: a `ModelState`, or
                `None` to initialize the model; an evaluator: the `ModelState`).
            resume: a checkpoint written by this loop; the run goes on from there.
            progress: show progress on stderr (a bar on a terminal, a line per
                epoch otherwise), or on the given stream; `False` for none.
            data_parallel: split each batch over `jax.devices()` (or the given
                devices); see `axonnx.loop.parallel`.
            return_loop_state: return `(result, loop_state)`.
        """
        parallel = _parallel(data_parallel)
        state = self._start(data, epochs, iterations, initial_state)
        skip = handlers.restore(state, resume, self._names()) if resume else 0
        if parallel is not None:
            state.carry, state.acc = parallel.replicate((state.carry, state.acc))
        display = _display(progress)
        self._loop(state, data, skip, iterations, parallel, display)
        if state.message:
            (display.message if display else _stderr)(state.message)
        return (state.output, state) if return_loop_state else state.output

    def _names(self) -> list[str]:
        return [name for name, _ in self.metrics]

    def _start(self, data, epochs, iterations, initial_state) -> LoopState:
        length = _length(data)
        if iterations is not None:
            length = iterations if length is None else min(length, iterations)
        return LoopState(
            self.steps.init(initial_state),
            epochs,
            length,
            self.steps.output,
            fresh_acc(self._names(), 0),
        )

    def _loop(self, state, data, skip, iterations, parallel, display) -> None:
        step = self._compiled(parallel)
        by_event = self._by_event()
        fire(by_event, "started", state)
        while state.epoch < state.epochs and state.status != "halted":
            self._begin_epoch(state, skip, parallel)
            fire(by_event, "epoch_started", state)
            if display:
                display.epoch_started(state)
            batches = itertools.islice(epoch_data(data, state.epoch - 1), skip, None)
            skip = 0
            run_epoch(state, batches, step, iterations, parallel, display, by_event)
            self._end_epoch(state, display, by_event)
        fire(by_event, "halted" if state.status == "halted" else "completed", state)

    def _begin_epoch(self, state: LoopState, skip: int, parallel) -> None:
        state.epoch += 1
        if state.status == "epoch_halted":
            state.status = "running"
        if skip:  # resumed mid-epoch: keep the restored counters and accumulators
            return
        state.epoch_iteration, state.metrics = 0, {}
        acc = fresh_acc(self._names(), state.iteration, int(state.acc["first_bad"]))
        state.acc = parallel.replicate(acc) if parallel else acc
        state.synced = True

    def _end_epoch(self, state: LoopState, display, by_event) -> None:
        state.sync()
        if state.status == "halted":
            return
        if state.status == "epoch_halted":
            fire(by_event, "epoch_halted", state)
            return
        state.history.append(state.metrics)
        fire(by_event, "epoch_completed", state)
        if display:
            display.epoch_ended(state)

    def _by_event(self) -> dict[str, list[Handler]]:
        ordered = sorted(self.handlers, key=lambda h: h.priority)
        return {event: [h for h in ordered if h.event == event] for event in EVENTS}

    def _compiled(self, parallel: DataParallel | None) -> Callable:
        key = None if parallel is None else tuple(d.id for d in parallel.devices)
        if key not in self._cache:
            self._cache[key] = self._compile(parallel)
        return self._cache[key]

    def _compile(self, parallel: DataParallel | None) -> Callable:
        traced: dict[str, bool] = {}
        wrapped = wrap_step(self.steps.step, dict(self.metrics), self.guard, traced)
        options = {"donate_argnums": (0, 1) if self.donate else (1,)}
        if parallel is not None:
            options["out_shardings"] = parallel.replicated
        jitted = jax.jit(wrapped, **options)

        def call(state: LoopState, batch: Any) -> None:
            state.carry, state.acc = jitted(state.carry, state.acc, batch)
            state.has_loss = traced.get("has_loss", False)
            state.synced = False

        return call


def _length(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:
        return None


def _parallel(option: bool | Sequence[jax.Device]) -> DataParallel | None:
    if option is False or option is None:
        return None
    return DataParallel(None if option is True else option)


def _display(progress: bool | IO[str]) -> Progress | None:
    if progress is False or progress is None:
        return None
    return Progress(None if progress is True else progress)


def _stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
