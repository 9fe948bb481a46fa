"""The one execution engine: `build`, `predict`, the training loop, `validate`,
`bench`, the CLI and the onnx backend all run models through `Engine`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax

from axonnx.compiler import init_fn
from axonnx.engine.core import Engine
from axonnx.engine.options import CPU_COMPILER_OPTIONS, default_compiler_options, inline_dispatch
from axonnx.node import Node
from axonnx.state import ModelState

__all__ = [
    "CPU_COMPILER_OPTIONS",
    "Engine",
    "build",
    "default_compiler_options",
    "engine_for",
    "inline_dispatch",
    "predict",
]


def engine_for(model: Node, mode: str = "inference") -> Engine:
    """The engine `predict` uses for `model` in `mode` (cached: the last 16 models)."""
    return _cached_engine(model, mode)


@functools.lru_cache(maxsize=16)
def _cached_engine(model: Node, mode: str) -> Engine:
    return Engine(model, mode=mode)


def build(
    model: Node, *, mode: str = "inference", seed: int = 0
) -> tuple[Callable[..., ModelState], Callable[..., Any]]:
    """Compile `model` into `(init_fn, predict_fn)`, both pure and jittable.

    `init_fn(initial=None) -> ModelState` creates every parameter, deterministically
    per `seed` and layer name; `initial` (a nested dict of arrays or a `ModelState`)
    overrides any part of it. `predict_fn(state, inputs, *, key=None)` runs the model
    through the engine's rewrites (traceable: use it inside `jax.jit` and `jax.grad`);
    `inputs` is an array (one input), a tuple in input order or a dict by input name.
    In `"train"` mode dropout is active (give `key`) and `predict_fn` returns
    `(outputs, new_state)` with updated non-trainable state.

    >>> import axonnx as ax, numpy as np
    >>> model = ax.input("x", shape=(None, 3)).dense(2)
    >>> init_fn, predict_fn = ax.build(model)
    >>> predict_fn(init_fn(), np.ones((4, 3), np.float32)).shape
    (4, 2)
    """
    engine = engine_for(model, mode)
    return init_fn(engine.plan, seed), engine.apply


def predict(
    model: Node,
    state: ModelState,
    inputs: Any,
    *,
    mode: str = "inference",
    key: jax.Array | None = None,
) -> Any:
    """Run `model` on `inputs`, compiled once per input signature (cached per model
    and mode); models with data-dependent ops run in compiled segments around them.

    >>> import axonnx as ax, numpy as np
    >>> model = ax.input("x", shape=(None, 3)).relu()
    >>> ax.predict(model, ax.init(model), np.full((1, 3), -1.0, np.float32)).tolist()
    [[0.0, 0.0, 0.0]]
    """
    return engine_for(model, mode)(state, inputs, key=key)
