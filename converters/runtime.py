"""Running imported models: jit-compiled per input signature, eager where it must be.

Rules (documented for users):
- A model runs under `jax.jit`, compiled once per distinct set of input shapes and
  dtypes (cached).
- Graph inputs that feed a shape-like slot (Reshape's shape, Slice's starts, …) and
  string inputs are static: their values are baked into the compilation, one per
  distinct value.
- Inside the compiled function, some layers run in a faster form
  (`axonnx.converters.fast_paths`: NHWC convolutions with pre-transposed kernels); the
  stored model and state are not changed. `Runtime(..., fast=False)` turns this off.
- On CPU, each compilation asks XLA to hand convolutions to XNNPACK and dots and
  reductions to YNNPACK (`CPU_COMPILER_OPTIONS`; nothing process-wide changes). This
  XLA's default also sends convolutions to YNNPACK, which is slower: ResNet-50 goes
  from 1.60–1.74× onnxruntime's latency to 1.35–1.40× at batch 1 and from 1.88–2.08×
  to 1.63–1.67× at batch 8 (docs/performance.md). `Runtime(..., compiler_options={})`
  compiles with XLA's defaults.
- Set `AXONNX_COMPILATION_CACHE=/some/folder` to keep compiled functions on disk
  (JAX's persistent compilation cache): a later process running the same model with
  the same shapes skips compiling.
- `inline_dispatch()`, called before JAX starts, runs computations in the calling
  thread: ~20 µs less per call, which matters for small models (`axonnx bench` does this).
- A model containing an op whose output shape depends on data (NonZero, Unique,
  Compress, NonMaxSuppression, …), or computing with strings (JAX has no string
  arrays), runs eagerly, op by op, outside `jax.jit`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from axonnx.compiler import Plan, plan, run
from axonnx.converters.fast_paths import prepare
from axonnx.converters.graph_import import Subgraph, onnx_value_name
from axonnx.converters.registry import spec_of
from axonnx.errors import CompileTimeValueError
from axonnx.node import Node
from axonnx.ops import get_op
from axonnx.state import ModelState

__all__ = ["CPU_COMPILER_OPTIONS", "Runtime", "default_compiler_options", "inline_dispatch"]

# XLA debug options for CPU compilations (measured in docs/performance.md)
CPU_COMPILER_OPTIONS = {
    "xla_cpu_experimental_xnn_fusion_type": (
        "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION,LIBRARY_FUSION_TYPE_ELTWISE"
    ),
    "xla_cpu_experimental_ynn_fusion_type": (
        "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"
    ),
}


class Runtime:
    """A callable that runs `model` with `state` on a dict of named inputs."""

    def __init__(
        self,
        model: Node,
        state: ModelState,
        *,
        fast: bool = True,
        compiler_options: Mapping[str, str] | None = None,
    ):
        self.plan: Plan = plan(model)
        self.state = state
        self.static_names = _static_inputs(self.plan)
        self.eager = model.meta.get("onnx_strings", False) or any(
            get_op(n.op).data_dependent
            for n in _all_nodes(self.plan)
            if n.op not in ("input", "param")
        )
        self._compiled: dict[tuple, Any] = {}
        if compiler_options is None:
            compiler_options = default_compiler_options()
        options = dict(compiler_options)
        self._jit = functools.partial(jax.jit, compiler_options=options) if options else jax.jit
        self._plan, self._state = self.plan, state
        if fast and not self.eager:
            rewritten, self._state = prepare(model, state)
            self._plan = plan(rewritten)
        # the state flattened once, its leaves resident on the device: a call passes the
        # leaves (no pytree walk of nested dicts, no host → device copy per call)
        leaves, self._treedef = jax.tree_util.tree_flatten(self._state)
        self._leaves = [jax.device_put(v) if isinstance(v, np.ndarray) else v for v in leaves]
        _use_compilation_cache()

    def __call__(self, inputs: Mapping[str, Any]) -> Any:
        """The model's outputs for `inputs` (name → array)."""
        if self.eager:
            return run(self.plan, self.state, dict(inputs))[0]
        static, dynamic = self._split(inputs)
        # the values of static inputs key the cache (only when there are any); jax.jit
        # itself caches per shapes and dtypes of the dynamic ones
        signature = tuple((n, _key(v)) for n, v in sorted(static.items())) if static else ()
        compiled = self._compiled.get(signature)
        if compiled is None:
            compiled = self._jit(functools.partial(self._traced, static))
            self._compiled[signature] = compiled
        if compiled is _EAGER:
            return run(self.plan, self.state, dict(inputs))[0]
        try:
            return compiled(self._leaves, dynamic)
        except CompileTimeValueError:
            self._compiled[signature] = _EAGER  # an op needs values while compiling
            return run(self.plan, self.state, dict(inputs))[0]

    def intermediates(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Every value that came from an ONNX node, by its ONNX value name (for
        bisecting a mismatch); compiled like `__call__` unless the model runs eagerly."""
        by_id = {n.id: n for n in self.plan.order}

        def collect(state, feed):
            _, _, kept = run(self.plan, state, feed, keep=onnx_value_name)
            return {onnx_value_name(by_id[i]): v for i, v in kept.items() if _is_array(v)}

        if self.eager:
            values = collect(self.state, dict(inputs))
        else:
            static, dynamic = self._split(inputs)
            compiled = self._jit(lambda st, feed: collect(st, {**feed, **static}))
            values = compiled(self.state, dynamic)
        return {name: np.asarray(v) for name, v in values.items()}

    def _split(self, inputs: Mapping[str, Any]) -> tuple[dict, dict]:
        """Inputs baked into the compilation (as NumPy) and inputs traced by it."""
        static, dynamic = {}, {}
        for name, value in inputs.items():
            if self._is_static(name, value):
                static[name] = _frozen(value)
            else:
                dynamic[name] = tuple(value) if isinstance(value, list) else value
        return static, dynamic

    def _traced(self, static: dict, leaves: list, feed: dict) -> Any:
        state = jax.tree_util.tree_unflatten(self._treedef, leaves)
        return run(self._plan, state, {**feed, **static})[0]

    def _is_static(self, name: str, value: Any) -> bool:
        if value is None:  # an empty optional: an empty pytree
            return False
        if name in self.static_names:
            return True
        if isinstance(value, list | tuple):  # a sequence: traced unless static
            return False
        dtype = getattr(value, "dtype", None)  # no host copy of a device array
        return (dtype if dtype is not None else np.asarray(value).dtype).kind == "O"


_EAGER = object()


def _frozen(value: Any) -> Any:
    """A static input as NumPy (a sequence as a tuple of arrays)."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return np.asarray(value)


def _key(value: Any) -> tuple:
    if isinstance(value, tuple):
        return ("sequence", *(_key(v) for v in value))
    return (value.dtype.str, value.shape, value.tobytes())


def _all_nodes(laid_out: Plan) -> list[Node]:
    """The nodes of a graph and, recursively, of its subgraphs (If/Loop/Scan bodies)."""
    nodes = list(laid_out.order)
    for node in laid_out.order:
        for sub in _subgraphs(node):
            nodes.extend(_all_nodes(sub.plan))
    return nodes


def _subgraphs(node: Node) -> list[Subgraph]:
    return [v for v in node.options.values() if isinstance(v, Subgraph)]


@functools.cache
def default_compiler_options() -> dict[str, str]:
    """`CPU_COMPILER_OPTIONS` when JAX runs on the CPU and its XLA accepts them (a tiny
    compilation checks, once per process); otherwise no options (XLA's defaults)."""
    if jax.default_backend() != "cpu":
        return {}
    try:
        probe = jax.jit(lambda x: x + 1, compiler_options=CPU_COMPILER_OPTIONS)
        probe.lower(np.zeros(2, np.float32)).compile()
    except Exception:  # an older jax (no compiler_options) or XLA without these options
        return {}
    return dict(CPU_COMPILER_OPTIONS)


def inline_dispatch() -> bool:
    """Run CPU computations inline in the calling thread instead of JAX's default
    asynchronous dispatch; return whether that is in force.

    For small models a call is mostly fixed cost, and handing each computation to a
    worker thread and waiting for it (`block_until_ready`, or reading the result) adds
    ~20 µs, more on a loaded machine: MLP at batch 1, ~60 → ~20 µs a call. Affects the
    whole process (JAX's `jax_cpu_enable_async_dispatch`), and only before JAX's
    backends start (the first array op): call it first thing. `axonnx bench` does.
    """
    from jax._src import xla_bridge

    if not xla_bridge.backends_are_initialized():
        jax.config.update("jax_cpu_enable_async_dispatch", False)
    return not jax.config.values["jax_cpu_enable_async_dispatch"]


def _use_compilation_cache() -> None:
    """Turn on JAX's persistent compilation cache in `$AXONNX_COMPILATION_CACHE`, unless
    the variable is unset or the user configured a cache folder already."""
    folder = os.environ.get("AXONNX_COMPILATION_CACHE")
    if not folder or jax.config.jax_compilation_cache_dir:
        return
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray | jax.Array) and value.dtype != object


def _static_inputs(laid_out: Plan) -> set[str]:
    """Graph inputs whose values reach a shape-like slot (directly or through other ops;
    Shape and Size only read shapes, so the walk stops there)."""
    names, seen = set(), set()
    stack = [p for node in laid_out.order for p in _static_parents(node)]
    while stack:
        node = stack.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        if node.op == "input":
            names.add(laid_out.names[node.id])
        elif node.meta.get("op_type") not in _READS_NO_VALUES:
            stack.extend(node.parents)
    return names


# ops that read only shapes, a sequence's length or an optional's presence
_READS_NO_VALUES = ("Shape", "Size", "SequenceLength", "OptionalHasElement")


def _static_parents(node: Node) -> list[Node]:
    """Parents feeding a static slot: of the node's own op, or, for If/Loop/Scan, the
    captured outer values that reach a static slot inside a subgraph."""
    spec = spec_of(node.op)
    if spec is None:
        return []
    parents = [p for i, p in enumerate(node.parents) if i in spec.static_inputs]
    names = node.options.get("capture_names", ())
    captured = dict(zip(names, node.parents[len(node.parents) - len(names) :], strict=True))
    for sub in _subgraphs(node):
        parents.extend(captured[n] for n in _static_inputs(sub.plan) if n in captured)
    return parents
