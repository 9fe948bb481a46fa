"""Calls of inner jaxprs (jit, custom derivatives, remat, shard_map) and value-preserving primitives
with several operands."""

from __future__ import annotations

from axonnx.converters.jaxpr_export.tracer import Tracer, rule
from axonnx.errors import UnsupportedOpError

_CALLS = ("jit", "remat2", "custom_jvp_call", "custom_vjp_call")


@rule(*_CALLS, onnx="the inner jaxpr, written in place")
def _call(t: Tracer, eqn, args: list[str]) -> list[str]:
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        inner = eqn.params.get(key)
        if inner is not None:
            return t.run_closed(inner, args)
    raise UnsupportedOpError(f"{t.where}: call {eqn.primitive.name!r} has no inner jaxpr")


@rule("optimization_barrier", "device_put", onnx="Identity of each operand")
def _identities(t: Tracer, eqn, args: list[str]) -> list[str]:
    return [t.op("Identity", [a]) for a in args]


@rule("sharding_constraint", onnx="Identity (one device)")
def _sharding(t: Tracer, eqn, args: list[str]) -> str:
    return t.op("Identity", args)


@rule("shard_map", onnx="its body, written in place (a mesh of one device only)")
def _shard_map(t: Tracer, eqn, args: list[str]) -> list[str]:
    devices = eqn.params["mesh"].size
    if devices != 1:
        raise UnsupportedOpError(
            f"{t.where}: shard_map over {devices} devices; ONNX runs on one (export it "
            "with a mesh of one device)"
        )
    return t.run_closed(eqn.params["jaxpr"], args)


@rule("pvary", onnx="Identity (the value varies over a mesh axis; one device)")
def _pvary(t: Tracer, eqn, args: list[str]) -> list[str]:
    return [t.op("Identity", [a]) for a in args]


@rule("custom_linear_solve", onnx="its `solve` jaxpr, written in place")
def _linear_solve(t: Tracer, eqn, args: list[str]) -> list[str]:
    lengths, jaxprs = eqn.params["const_lengths"], eqn.params["jaxprs"]
    start = lengths.matvec + lengths.vecmat
    consts = args[start : start + lengths.solve]
    b = args[sum(lengths) :]
    return t.run_closed(jaxprs.solve, consts + b)
