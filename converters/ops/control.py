"""Control-flow ONNX ops: If, Loop and Scan, over subgraphs run as functions.

A graph attribute arrives as a `Subgraph` (`subgraph(*formal, env=...)` returns its
outputs as a tuple); the outer values it reads are the node's trailing inputs, named by
`capture_names`.

How each op compiles:
- If: a plain Python branch when `cond` is known (constants, values computed from
  shapes); `lax.cond` when it depends on run-time data, which needs both branches to
  give the same structure, shapes and dtypes.
- Loop: with everything known it runs in Python. Otherwise its body is traced once
  to choose: `lax.scan` when the trip count is known and the condition stays true
  (scan outputs are stacked), `lax.while_loop` when the condition depends on data and
  there are no scan outputs, and a Python unrolling (the iteration number known in
  each copy) when the body needs known values (e.g. `Slice` ends from the iteration
  number) or changes carried shapes (a growing sequence); unrolling needs M and the
  conditions known. M is a static input (it sizes the scan outputs): a graph input
  that feeds it is baked into the compilation. Scan outputs whose length depends on
  data, and unrolling under a run-time condition, need the model to run eagerly.
- Scan: `lax.scan`; Scan-8's batch axis through `jax.vmap`, its `sequence_lens` by
  masking (scan outputs past a sequence's length are zeros).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from axonnx.converters.ops._common import int64, normalize_axis, static
from axonnx.converters.ops._control_util import (
    abstract,
    concrete_bool,
    describe,
    is_concrete,
    match_carry,
    same_layout,
    split_captures,
)
from axonnx.converters.registry import onnx_op
from axonnx.errors import AxonnxError, CompileTimeValueError, InvalidModelError, ShapeError

_ALL_VERSIONS = (1, 11, 13, 16, 19, 21, 23, 24, 25)

# ---------------------------------------------------------------- If


@onnx_op("If", *_ALL_VERSIONS)
def if_(cond, *captured, then_branch, else_branch, capture_names=()):
    """ONNX If-1..25: the outputs of `then_branch` when `cond` is true, else of
    `else_branch` (a tuple of all outputs)."""
    env = dict(zip(capture_names, captured, strict=True))
    if is_concrete(cond):
        branch = then_branch if concrete_bool(cond, "If cond") else else_branch
        return tuple(branch(env=env))
    try:  # each branch is traced once: nested Ifs compile in linear, not 2^depth, time
        return jax.lax.cond(
            jnp.reshape(cond, ()).astype(bool),
            lambda: _strong(then_branch(env=env)),
            lambda: _strong(else_branch(env=env)),
        )
    except TypeError as error:
        then_layout = jax.eval_shape(lambda: then_branch(env=env))
        else_layout = jax.eval_shape(lambda: else_branch(env=env))
        if same_layout(then_layout, else_layout):
            raise
        raise CompileTimeValueError(
            f"If: the branches give different shapes or dtypes (then_branch "
            f"{describe(then_layout)}, else_branch {describe(else_layout)}), so cond must "
            "be known when the model is compiled, but it depends on run-time data. Make "
            "cond a constant, or run the model without jax.jit."
        ) from error


def _strong(tree: Any) -> tuple:
    """Outputs without JAX weak types (`lax.cond` branches must agree exactly)."""
    return tuple(jax.tree_util.tree_map(lambda v: jax.lax.convert_element_type(v, v.dtype), tree))


# ---------------------------------------------------------------- Loop


@dataclass(frozen=True)
class _Loop:
    """One Loop node's body and run-time values."""

    body: Any
    env: dict
    trip: Any  # M: None (absent), or a 0-d integer (maybe traced)
    cond: Any  # initial condition: None (absent), or a boolean (maybe traced)
    carried: tuple

    def step(self, i, cond, carried) -> tuple[Any, tuple, tuple]:
        """`(cond_out, carried_out, scan_outputs)` of one iteration."""
        outputs = self.body(i, cond, *carried, env=self.env)
        count = len(carried)
        return outputs[0], tuple(outputs[1 : 1 + count]), tuple(outputs[1 + count :])

    @property
    def scan_count(self) -> int:
        return len(self.body.model.parents) - 1 - len(self.carried)

    @property
    def static_control(self) -> bool:
        return is_concrete((self.trip, self.cond))

    def limit(self) -> int | None:
        if self.trip is None:
            return None
        return int(static(self.trip, "Loop M (trip count)").reshape(()))

    def first_cond(self) -> Any:
        return np.asarray(True) if self.cond is None else self.cond


@onnx_op("Loop", *_ALL_VERSIONS, static_inputs=(0,))
def loop(M=None, cond=None, *v_initial, body, capture_names=()):
    """ONNX Loop-1..25: run `body(i, cond, *carried)` while `i < M` and `cond`; returns
    the final carried values then the scan outputs stacked on a new axis 0."""
    carried, env = split_captures(v_initial, capture_names)
    job = _Loop(body, env, M, cond, tuple(carried))
    if is_concrete((M, cond, job.carried, env)):
        return _unrolled(job)
    probe = _probe(job)
    if isinstance(probe, Exception):
        if job.static_control:
            return _unrolled(job)
        raise CompileTimeValueError(
            "Loop: a compiled loop cannot run this body, so it must be unrolled, for which "
            "M and cond must be known when the model is compiled, but they depend on "
            f"run-time data. Feed them as constants, or run the model without jax.jit. "
            f"({probe})"
        ) from probe
    cond_out, scans = probe
    if cond_out is True and job.static_control:
        return _scanned(job)
    if cond_out is False and job.static_control:
        return _unrolled(job)
    if not scans:
        return _while(job)
    raise CompileTimeValueError(
        f"Loop: the number of iterations sizes its {len(scans)} scan output(s), so M and "
        "the condition must be known when the model is compiled, but they depend on "
        "run-time data. Feed them as constants, or run the model without jax.jit."
    )


def _probe(job: _Loop) -> tuple[bool | None, tuple] | Exception:
    """Trace the body once with an unknown iteration number: `(cond_out, scan layouts)`
    where `cond_out` is its condition output when known, else None; or the reason a
    `lax` loop cannot run it (the error it raised, or carried values that change)."""
    seen = {}

    def body(i, carried):
        cond_out, carried_out, scans = job.step(i, job.first_cond(), carried)
        seen["cond"] = cond_out if is_concrete(cond_out) else None
        return carried_out, scans

    try:
        carried_out, scans = jax.eval_shape(
            body, jax.ShapeDtypeStruct((), int64()), abstract(job.carried)
        )
    except (AxonnxError, jax.errors.ConcretizationTypeError) as error:
        return error
    if not same_layout(carried_out, abstract(job.carried)):
        return ShapeError(
            f"Loop: carried values change from {describe(job.carried)} to "
            f"{describe(carried_out)} in one iteration, which a compiled loop cannot hold. "
            "Feed M and cond as constants, or run the model without jax.jit."
        )
    cond_out = seen["cond"]
    return (None if cond_out is None else concrete_bool(cond_out, "Loop cond")), scans


def _unrolled(job: _Loop) -> tuple:
    """The loop run in Python: the iteration number is known in each copy of the body."""
    limit, cond, carried = job.limit(), job.first_cond(), job.carried
    keep, i, rows = concrete_bool(cond, "Loop cond"), 0, []
    while keep and (limit is None or i < limit):
        cond, carried, scans = job.step(np.asarray(i, int64()), cond, carried)
        rows.append(scans)
        keep = concrete_bool(cond, "Loop condition (the body's first output)")
        i += 1
    if rows:
        stacked = tuple(jnp.stack(column) for column in zip(*rows, strict=True))
    else:
        stacked = _empty_scans(job)
    return (*carried, *stacked)


def _empty_scans(job: _Loop) -> tuple:
    """Scan outputs of a loop that ran no iteration: empty along axis 0."""
    if job.scan_count == 0:
        return ()
    _, _, scans = jax.eval_shape(
        lambda: job.step(np.asarray(0, int64()), job.first_cond(), job.carried)
    )
    return tuple(jnp.zeros((0, *s.shape), s.dtype) for s in scans)


def _scanned(job: _Loop) -> tuple:
    """A known trip count and a condition that stays true: `lax.scan`."""
    first = job.first_cond()
    length = job.limit() if concrete_bool(first, "Loop cond") else 0
    if length is None:
        raise InvalidModelError(
            "Loop: no trip count M and the condition stays true: the loop never ends"
        )

    def step(carried, i):
        _, carried_out, scans = job.step(i, first, carried)
        return match_carry(carried_out, carried, "Loop body"), scans

    carried, scans = jax.lax.scan(step, job.carried, jnp.arange(length, dtype=int64()))
    return (*carried, *scans)


def _while(job: _Loop) -> tuple:
    """A condition that depends on data and no scan outputs: `lax.while_loop`."""

    def keep(state):
        i, cond, _ = state
        return cond if job.trip is None else jnp.logical_and(cond, i < jnp.reshape(job.trip, ()))

    def step(state):
        i, cond, carried = state
        cond_out, carried_out, _ = job.step(i, cond, carried)
        return i + 1, _scalar_bool(cond_out), match_carry(carried_out, carried, "Loop body")

    start = (jnp.zeros((), int64()), _scalar_bool(job.first_cond()), job.carried)
    _, _, carried = jax.lax.while_loop(keep, step, start)
    return tuple(carried)


def _scalar_bool(value) -> jax.Array:
    return jnp.reshape(jnp.asarray(value), ()).astype(bool)


# ---------------------------------------------------------------- Scan


@onnx_op("Scan", 9, 11, 16, 19, 21, 23, 24, 25)
def scan(
    *initial_state_and_scan_inputs,
    body,
    num_scan_inputs,
    scan_input_axes=None,
    scan_input_directions=None,
    scan_output_axes=None,
    scan_output_directions=None,
    capture_names=(),
):
    """ONNX Scan-9..25: `lax.scan` of `body(*states, *scan_elements)` along each scan
    input's axis (reversed where its direction is 1); returns the final states then
    the scan outputs stacked along their axes."""
    values, env = split_captures(initial_state_and_scan_inputs, capture_names)
    states, xs = _split_states(values, num_scan_inputs)
    in_axes = scan_input_axes or (0,) * len(xs)
    in_dirs = scan_input_directions or (0,) * len(xs)
    xs = [_to_front(x, a, d) for x, a, d in zip(xs, in_axes, in_dirs, strict=True)]
    final, ys = _lax_scan(body, env, states, xs, None)
    out_axes = scan_output_axes or (0,) * len(ys)
    out_dirs = scan_output_directions or (0,) * len(ys)
    ys = [_from_front(y, a, d) for y, a, d in zip(ys, out_axes, out_dirs, strict=True)]
    return (*final, *ys)


@onnx_op("Scan", 8)
def scan_8(
    sequence_lens=None,
    *initial_state_and_scan_inputs,
    body,
    num_scan_inputs,
    directions=None,
    capture_names=(),
):
    """ONNX Scan-8: batched scan (batch axis 0, scan axis 1), each batch entry scanning
    only its first `sequence_lens[b]` steps; later scan outputs are zeros."""
    values, env = split_captures(initial_state_and_scan_inputs, capture_names)
    states, xs = _split_states(values, num_scan_inputs)
    steps = jnp.shape(xs[0])[1] if xs else 0
    batch = jnp.shape(xs[0] if xs else states[0])[0]
    lens = jnp.full((batch,), steps, int64()) if sequence_lens is None else sequence_lens
    dirs = directions or (0,) * len(xs)

    def one(length, states, xs):
        xs = [_reverse_within(x, length) if d else x for x, d in zip(xs, dirs, strict=True)]
        final, ys = _lax_scan(body, env, states, xs, None if sequence_lens is None else length)
        return tuple(final), tuple(ys)

    final, ys = jax.vmap(one)(jnp.asarray(lens), tuple(states), tuple(xs))
    return (*final, *ys)


def _split_states(values: list, num_scan_inputs: int) -> tuple[tuple, tuple]:
    if not 0 <= num_scan_inputs <= len(values):
        raise InvalidModelError(
            f"Scan: expected num_scan_inputs between 0 and {len(values)} (the number of "
            f"states and scan inputs), got {num_scan_inputs}"
        )
    count = len(values) - num_scan_inputs
    return tuple(values[:count]), tuple(values[count:])


def _lax_scan(body, env: dict, states: tuple, xs: list, length) -> tuple[tuple, tuple]:
    """`lax.scan` of the body over axis 0 of `xs`; with `length`, steps from `length`
    on keep the states and give zero outputs."""
    count = len(states)

    def step(carry, inputs):
        t, elements = inputs
        outputs = body(*carry, *elements, env=env)
        new = match_carry(tuple(outputs[:count]), carry, "Scan body")
        ys = tuple(outputs[count:])
        if length is not None:
            valid = t < length
            new = jax.tree_util.tree_map(lambda n, o: jnp.where(valid, n, o), new, carry)
            ys = tuple(jnp.where(valid, y, jnp.zeros_like(y)) for y in ys)
        return new, ys

    steps = jnp.shape(xs[0])[0] if xs else 0
    ts = jnp.arange(steps, dtype=int64())
    final, ys = jax.lax.scan(step, tuple(states), (ts, tuple(xs)), length=steps)
    return final, ys


def _to_front(x, axis: int, direction: int):
    """`x` with its scan axis first, reversed for direction 1."""
    x = jnp.moveaxis(x, normalize_axis(axis, jnp.ndim(x)), 0)
    return jnp.flip(x, 0) if direction else x


def _from_front(y, axis: int, direction: int):
    """A stacked scan output (scan axis first) moved to `axis`, reversed for direction 1."""
    y = jnp.flip(y, 0) if direction else y
    return jnp.moveaxis(y, 0, normalize_axis(axis, jnp.ndim(y)))


def _reverse_within(x, length):
    """`x` (scan axis first) with its first `length` entries reversed."""
    t = jnp.arange(jnp.shape(x)[0])
    return jnp.take(x, jnp.where(t < length, length - 1 - t, t), axis=0)
