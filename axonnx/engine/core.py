"""The engine: the one way a model runs, compiled.

Rules (documented for users):
- A model runs under `jax.jit`, compiled once per distinct set of input shapes and
  dtypes (cached).
- Graph inputs that feed a shape-like slot (Reshape's shape, Slice's starts, …) and
  string inputs are static: their values are baked into the compilation, one per
  distinct value.
- Inside the compiled function some layers run in a faster form
  (`axonnx.engine.rewrites`); the stored model and state are not changed, and the
  rewrites are plain JAX, so `jax.grad` goes through them. `fast=False` turns them off.
- A model holding an op whose output shape depends on data (NonZero, Unique,
  NonMaxSuppression, …) runs as compiled segments around those ops
  (`axonnx.engine.segments`). So does a model that may compute with strings (JAX
  has no string arrays; string values stay NumPy, baked into the segments): an op
  that needs a run-time value leaves its segment to run eagerly, and a signature
  that still cannot compile runs eagerly, op by op.
- Compiler options and dispatch: `axonnx.engine.options`.
- A call's fixed cost is kept small: parameters are prepared once per state object
  and kept on the device, small ones packed into a few buffers
  (`axonnx.engine.resident`); a repeated call with the same state and plain array
  inputs goes straight to the compiled function (JAX's C++ dispatch checks the
  shapes and dtypes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from axonnx.compiler import MODES, run
from axonnx.engine.options import default_compiler_options, use_compilation_cache
from axonnx.engine.resident import Resident, pack, unpack
from axonnx.engine.rewrites import Rewritten, rewrite
from axonnx.engine.segments import Segmented, on_device
from axonnx.engine.signature import (
    data_dependent_nodes,
    freeze,
    is_static_value,
    static_inputs,
    static_key,
)
from axonnx.errors import AxonnxError, CompileTimeValueError, InvalidModelError
from axonnx.node import Node
from axonnx.plan import Plan, plan
from axonnx.state import ModelState

__all__ = ["Engine"]


class Engine:
    """A model compiled for one mode: `engine(state, inputs)` runs it.

    Args:
        model: the graph.
        mode: `"inference"` or `"train"` (dropout active; the call returns
            `(outputs, new_state)`).
        fast: apply the engine's rewrites (faster forms of layers).
        compiler_options: XLA options for each compilation; `None` for the defaults
            (`axonnx.engine.options.default_compiler_options`), `{}` for XLA's own.

    >>> import axonnx as ax, numpy as np
    >>> model = ax.input("x", shape=(None, 3)).dense(2)
    >>> engine = Engine(model)
    >>> engine(ax.init(model), np.ones((4, 3), np.float32)).shape
    (4, 2)
    """

    def __init__(
        self,
        model: Node,
        *,
        mode: str = "inference",
        fast: bool = True,
        compiler_options: Mapping[str, str] | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"expected mode in {MODES}, got {mode!r}")
        self.plan: Plan = plan(model)
        self.mode = mode
        self.fast: Rewritten = rewrite(self.plan) if fast else Rewritten(self.plan)
        self.static_names = static_inputs(self.plan)
        self.strings = bool(model.meta.get("onnx_strings", False))
        self.eager_ids = data_dependent_nodes(self.fast.plan)
        options = dict(default_compiler_options() if compiler_options is None else compiler_options)
        self.jit = functools.partial(jax.jit, compiler_options=options) if options else jax.jit
        self._compiled: dict[tuple, Callable] = {}
        self._resident: tuple[ModelState, Resident] | None = None
        self._treedef: Any = None
        self._layout: Any = None
        # (state, packed parameters, jitted whole graph) for repeated calls
        self._fast: tuple[ModelState, tuple, Callable] | None = None
        self._array_types: tuple[type, ...] = (np.ndarray,)
        use_compilation_cache()

    def apply(self, state: ModelState, inputs: Any, *, key: jax.Array | None = None) -> Any:
        """Run the model as plain JAX: pure and traceable (what `build`'s `predict_fn` is).

        Inside `jax.jit` or `jax.grad`, the rewrites' parameter layouts are computed in
        the trace, so gradients reach the stored parameters."""
        if not isinstance(state, ModelState):
            raise TypeError("predict: expected the ModelState returned by init as `state`")
        outputs, new_state, _ = run(
            self.fast.plan, self.fast.prepare(state), inputs, mode=self.mode, key=key
        )
        return (outputs, new_state) if self.mode == "train" else outputs

    def __call__(self, state: ModelState, inputs: Any, *, key: jax.Array | None = None) -> Any:
        """Run the model compiled: one compilation per input signature, parameters
        prepared once per state object and kept on the device."""
        fast = self._fast
        if fast is not None and key is None and fast[0] is state:
            dynamic = self._plain(inputs)
            if dynamic is not None:
                try:
                    return fast[2](fast[1], dynamic, None)
                except (AxonnxError, TypeError):
                    pass  # the general path decides (an op needing a run-time value, …)
        return self._call(state, inputs, key)

    def _call(self, state: ModelState, inputs: Any, key: jax.Array | None) -> Any:
        if not isinstance(state, ModelState):
            raise TypeError("predict: expected the ModelState returned by init as `state`")
        feed = self._named(inputs)
        static, dynamic = self._split(feed)
        signature = tuple((n, static_key(v)) for n, v in sorted(static.items())) if static else ()
        try:
            hash(signature)
        except TypeError:  # a map or other unhashable value (ONNX-ML): op by op
            outputs, new_state, _ = run(self.plan, state, feed, mode=self.mode, key=key)
            return (outputs, new_state) if self.mode == "train" else outputs
        if self._traced_call(state, dynamic):  # inside jax.grad / jax.jit / vmap
            return self.apply(state, inputs, key=key)
        resident = self._prepared(state)  # before the lookup: a new layout clears it
        compiled = self._compiled.get(signature) or self._compile(signature, static)
        try:
            result = compiled(resident, dynamic, key)
        except CompileTimeValueError as error:  # an op needs a run-time value as a shape
            self.eager_ids.add(getattr(error, "node_id", -1))
            self._fast = None
            self._compiled[signature] = self._segmented(static)
            return self._compiled[signature](resident, dynamic, key)
        self._keep_fast(state, resident, signature, inputs, key)
        return result

    def _keep_fast(self, state, resident: Resident, signature: tuple, inputs, key) -> None:
        """After a call that ran the whole graph under jit with plain array inputs and
        no static ones, let repeated calls with this state go straight to it."""
        whole = self._compiled.get(signature)
        if signature or key is not None or self.static_names or not isinstance(whole, _Whole):
            return
        self._array_types = (np.ndarray, _jax_array_type())
        if self._plain(inputs) is not None:
            self._fast = (state, resident.packed, whole.jitted)

    def _plain(self, inputs: Any) -> dict | None:
        """The inputs by name when they are an array, a tuple/list or a dict of
        non-string NumPy or JAX arrays (not tracers); else None."""
        if type(inputs) is dict:
            values = inputs.values()
        elif type(inputs) in (tuple, list):
            values = inputs
        else:
            values = (inputs,)
        kinds = self._array_types
        if not all(type(v) in kinds and v.dtype.kind not in "OSU" for v in values):
            return None
        if type(inputs) is dict:
            return inputs
        names = self._input_names
        return dict(zip(names, values, strict=True)) if len(values) == len(names) else None

    def lower(self, state: ModelState, inputs: Any, *, key: jax.Array | None = None):
        """The `jax.stages.Lowered` computation a call with these inputs compiles (its
        `.as_text()` is the StableHLO), for a model without data-dependent ops."""
        static, dynamic = self._split(self._named(inputs))
        packed = self._prepared(state).packed
        return self.jit(functools.partial(self._traced, static)).lower(packed, dynamic, key)

    def intermediates(
        self, state: ModelState, inputs: Any, name_of: Callable[[Node], str | None]
    ) -> dict[str, np.ndarray]:
        """Every array value of a node that `name_of` names, by that name (to find the
        first node where two runtimes diverge); compiled unless the model runs eagerly."""
        feed = self._named(inputs)
        by_id = {n.id: n for n in self.plan.order}

        def collect(state, values):
            _, _, kept = run(self.plan, state, values, keep=lambda n: name_of(n) is not None)
            return {name_of(by_id[i]): v for i, v in kept.items() if _is_array(v)}

        if self.strings or self.eager_ids:
            values = collect(state, feed)
        else:
            static, dynamic = self._split(feed)
            values = self.jit(lambda st, dyn: collect(st, {**dyn, **static}))(state, dynamic)
        return {name: np.asarray(v) for name, v in values.items()}

    def _named(self, inputs: Any) -> dict[str, Any]:
        """Inputs by name, from an array (one input), a tuple in input order or a dict."""
        if isinstance(inputs, Mapping):
            return dict(inputs)
        names = self._input_names
        given = list(inputs) if isinstance(inputs, tuple | list) else [inputs]
        if len(given) != len(names):
            raise InvalidModelError(
                f"predict: the model has {len(names)} inputs {names}, got {len(given)}."
            )
        return dict(zip(names, given, strict=True))

    def _split(self, feed: Mapping[str, Any]) -> tuple[dict, dict]:
        """Inputs baked into the compilation (as NumPy) and inputs traced by it."""
        static, dynamic = {}, {}
        for name, value in feed.items():
            if value is not None and (name in self.static_names or is_static_value(value)):
                static[name] = freeze(value)
            else:
                dynamic[name] = tuple(value) if isinstance(value, list) else value
        return static, dynamic

    @functools.cached_property
    def _input_names(self) -> list[str]:
        return [self.plan.names[n.id] for n in self.plan.inputs]

    def _compile(self, signature: tuple, static: dict) -> Callable:
        whole = _Whole(self.jit(functools.partial(self._traced, static)))
        if self.strings:
            trials = [] if self.eager_ids else [whole]
            compiled = self._first_working(signature, [*trials, self._segmented(static)], static)
        elif self.eager_ids:
            compiled = self._segmented(static)
        else:
            compiled = whole
        self._compiled[signature] = compiled
        return compiled

    def _traced(self, static: dict, packed: tuple, dynamic: dict, key) -> Any:
        leaves = unpack(self._layout, packed)
        return self._eager(static, leaves, dynamic, key)

    def _eager(self, static: dict, leaves: list, dynamic: dict, key) -> Any:
        state = jax.tree_util.tree_unflatten(self._treedef, leaves)
        outputs, new_state, _ = run(
            self.fast.plan, state, {**dynamic, **static}, mode=self.mode, key=key
        )
        return (outputs, new_state) if self.mode == "train" else outputs

    def _segmented(self, static: dict) -> Callable:
        segmented = Segmented(self.fast.plan, self.eager_ids, self.jit, self.mode)

        def call(resident: Resident, dynamic: dict, key) -> Any:
            state = jax.tree_util.tree_unflatten(self._treedef, resident.leaves)
            traced = jax.tree_util.tree_map(on_device, dynamic)
            return segmented(state, {**traced, **static}, key)

        return call

    def _first_working(self, signature: tuple, candidates: list[Callable], static: dict):
        """The first of `candidates` whose call works (an op computing with strings
        from traced values, or a string output, can fail to compile), else the graph op
        by op, not under jit; the first that works is kept for this signature. When
        all fail (a wrong input), the last one's error is raised and nothing is kept."""

        def eager(resident: Resident, dynamic: dict, key) -> Any:
            return self._eager(static, resident.leaves, dynamic, key)

        def call(resident: Resident, dynamic: dict, key) -> Any:
            for candidate in candidates:
                try:
                    result = candidate(resident, dynamic, key)
                except (AxonnxError, TypeError):
                    continue
                self._compiled[signature] = candidate
                return result
            result = eager(resident, dynamic, key)
            self._compiled[signature] = eager
            return result

        return call

    def _traced_call(self, state: ModelState, dynamic: dict) -> bool:
        """Whether the inputs or the state are JAX tracers: `ax.predict` called under a
        transformation runs as plain JAX (`apply`), traced with the caller's function."""
        if any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(dynamic)):
            return True
        if self._resident is not None and self._resident[0] is state:
            return False
        return any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(state))

    def _prepared(self, state: ModelState) -> Resident:
        """The prepared state on the device (`axonnx.engine.resident`), computed once
        per state object (states are values: a new state is a new object). The
        compiled functions know its tree structure and packing; a state of another
        structure or packing drops them."""
        if self._resident is not None and self._resident[0] is state:
            return self._resident[1]
        leaves, treedef = jax.tree_util.tree_flatten(self.fast.prepare(state))
        resident = pack([jax.device_put(v) if isinstance(v, np.ndarray) else v for v in leaves])
        if self._treedef is None or treedef != self._treedef or resident.layout != self._layout:
            self._treedef, self._layout = treedef, resident.layout
            self._compiled.clear()
            self._fast = None
        self._resident = (state, resident)
        return resident


class _Whole:
    """The whole graph under one jit, called with the packed parameters."""

    def __init__(self, jitted: Callable):
        self.jitted = jitted

    def __call__(self, resident: Resident, dynamic: dict, key) -> Any:
        return self.jitted(resident.packed, dynamic, key)


@functools.cache
def _jax_array_type() -> type:
    """The concrete class of JAX's arrays (not its tracers)."""
    return type(jax.device_put(np.zeros((), np.float32)))


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray | jax.Array) and value.dtype != object
