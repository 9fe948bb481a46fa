"""Running a graph that holds data-dependent ops: compiled segments around them.

Every maximal run of nodes whose shapes are known at compile time runs as one
`jax.jit` computation (cached per input shapes); only the data-dependent nodes
themselves (NonZero, NonMaxSuppression, Unique, TopK with a run-time k, …) run
eagerly, on concrete values. Values a segment computes from shapes and constants
alone (shape arithmetic) stay concrete NumPy across segment boundaries, so that the
next segment can still use them as shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from axonnx.compiler import bind_inputs, evaluate
from axonnx.errors import CompileTimeValueError
from axonnx.plan import Plan
from axonnx.state import ModelState

__all__ = ["Segment", "Segmented", "on_device", "split_segments"]


@dataclass(frozen=True)
class Segment:
    """Nodes `plan.order[start:stop]`, compiled together unless `eager`.

    Attributes:
        start, stop: the range of node positions.
        eager: run op by op on concrete values (one data-dependent node).
        reads: ids of values made before the segment that it reads.
        writes: ids of values it makes that later segments (or the output) read.
    """

    start: int
    stop: int
    eager: bool
    reads: tuple[int, ...]
    writes: tuple[int, ...]


def split_segments(laid_out: Plan, eager_ids: set[int]) -> list[Segment]:
    """Cut the node order into compiled runs and single eager nodes."""
    bounds, start = [], 0
    for index, node in enumerate(laid_out.order):
        if node.id in eager_ids:
            if start < index:
                bounds.append((start, index, False))
            bounds.append((index, index + 1, True))
            start = index + 1
    if start < len(laid_out.order):
        bounds.append((start, len(laid_out.order), False))
    return [_segment(laid_out, *bound, [b[:2] for b in bounds]) for bound in bounds]


def _segment(laid_out: Plan, start: int, stop: int, eager: bool, bounds) -> Segment:
    order = laid_out.order
    inside = {n.id for n in order[start:stop] if n.op != "input"}  # inputs come bound
    reads = {p.id for n in order[start:stop] for p in n.parents if p.id not in inside}
    later = {p.id for n in order[stop:] for p in n.parents} | {laid_out.output.id}
    writes = tuple(sorted(inside & later))
    return Segment(start, stop, eager, tuple(sorted(reads)), writes)


class Segmented:
    """Runs a laid-out graph as compiled segments and eager data-dependent nodes.

    A segment that still needs a run-time value while compiling (a shape computed
    from data) has the node at fault moved out to run eagerly, and is cut again.
    """

    def __init__(self, laid_out: Plan, eager_ids: set[int], jit: Callable, mode: str):
        self.plan, self.mode, self._jit = laid_out, mode, jit
        self.eager_ids = set(eager_ids)
        self.segments = split_segments(laid_out, self.eager_ids)
        self._compiled: dict[tuple, tuple[Any, dict]] = {}

    def __call__(self, state: ModelState, inputs: Any, key: jax.Array | None = None) -> Any:
        """The graph's output (and, in train mode, the updated state)."""
        while True:
            try:
                return self._run(state, inputs, key)
            except CompileTimeValueError as error:
                node_id = getattr(error, "node_id", None)
                if node_id is None or node_id in self.eager_ids:
                    raise
                self.eager_ids.add(node_id)
                self.segments = split_segments(self.plan, self.eager_ids)
                self._compiled.clear()

    def _run(self, state: ModelState, inputs: Any, key: jax.Array | None) -> Any:
        values = bind_inputs(self.plan, inputs)
        new_state = jax.tree_util.tree_map(lambda v: v, state.state)
        for number, segment in enumerate(self.segments):
            if segment.eager:
                index = segment.start
                evaluate(self.plan, index, values, state, new_state, mode=self.mode, key=key)
                node_id = self.plan.order[index].id
                values[node_id] = jax.tree_util.tree_map(on_device, values[node_id])
            else:
                values.update(self._compiled_run(number, segment, state, values, key))
        output = values[self.plan.output.id]
        return (output, new_state) if self.mode == "train" else output

    def _compiled_run(self, number, segment, state, values, key) -> dict[int, Any]:
        static = {i: values[i] for i in segment.reads if _is_concrete(values[i])}
        traced = {i: values[i] for i in segment.reads if i not in static}
        signature = (number, _shapes(traced), tuple((i, _value_key(v)) for i, v in static.items()))
        entry = self._compiled.get(signature)
        if entry is None:
            entry = self._compile(segment, static, state, traced, key)
            self._compiled[signature] = entry
        executable, concrete = entry
        return {**executable(state, traced, key), **concrete}

    def _compile(self, segment, static, state, traced, key):
        concrete: dict[int, Any] = {}

        def run_segment(state, traced, key):
            values = {**static, **traced}
            new_state = jax.tree_util.tree_map(lambda v: v, state.state)
            for index in range(segment.start, segment.stop):
                if self.plan.order[index].op == "input":
                    continue
                evaluate(self.plan, index, values, state, new_state, mode=self.mode, key=key)
            out = {}
            for i in segment.writes:
                (concrete if _is_concrete(values[i]) else out)[i] = values[i]
            return out

        executable = self._jit(run_segment).lower(state, traced, key).compile()
        return executable, dict(concrete)


def on_device(value: Any) -> Any:
    """A NumPy array as a device array, so that a compiled segment traces it instead of
    baking its values in (strings stay NumPy: JAX has none)."""
    if isinstance(value, np.ndarray) and value.dtype.kind != "O":
        return jax.device_put(value)
    return value


def _is_concrete(value: Any) -> bool:
    """A value known without running anything: NumPy arrays and Python scalars (shape
    arithmetic), possibly nested in tuples; not JAX arrays or tracers."""
    leaves = jax.tree_util.tree_leaves(value)
    return all(isinstance(v, np.ndarray | np.generic | int | float | bool | str) for v in leaves)


def _shapes(traced: dict[int, Any]) -> tuple:
    return tuple(
        (
            i,
            str(jax.tree_util.tree_structure(v)),
            tuple(
                (np.shape(leaf), str(getattr(leaf, "dtype", type(leaf))))
                for leaf in jax.tree_util.tree_leaves(v)
            ),
        )
        for i, v in traced.items()
    )


def _value_key(value: Any) -> tuple:
    leaves = jax.tree_util.tree_leaves(value)
    return tuple((np.asarray(v).dtype.str, np.shape(v), np.asarray(v).tobytes()) for v in leaves)
