"""Control flow: cond → If (a chain for more than two branches), while → Loop,
scan → Loop with scan outputs (xs read by Gather at the iteration number)."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.shapes import reverse
from axonnx.converters.jaxpr_export.tracer import FLAG, Tracer, loop_inputs, rule


def _avals(closed) -> tuple[list, list]:
    jaxpr = getattr(closed, "jaxpr", closed)
    return [v.aval for v in jaxpr.invars], [v.aval for v in jaxpr.outvars]


def _branch(t: Tracer, closed, operands: list[str], name: str):
    _, outs = _avals(closed)

    def body(sub: Tracer, _names: list[str]) -> list:
        return list(zip(sub.run_closed(closed, operands), outs))

    return t.subgraph(name, [], body)[0]


@rule("cond", onnx="If (nested If for more than two branches)")
def _cond(t: Tracer, eqn, args: list[str]) -> list[str]:
    index, *operands = args
    branches = list(eqn.params["branches"])
    if eqn.invars[0].aval.dtype == np.bool_:
        index = t.cast(index, np.int64)
    return _choose(t, t.cast(index, np.int64), branches, operands, 0)


def _choose(t: Tracer, index: str, branches: list, operands: list[str], k: int) -> list[str]:
    if k == len(branches) - 1:
        return t.run_closed(branches[k], operands)
    _, outs = _avals(branches[k])
    is_k = t.op("Equal", [index, t.const(k, np.int64)])
    if k == len(branches) - 2:
        other = _branch(t, branches[k + 1], operands, "else_branch")
    else:

        def rest(sub: Tracer, _names):
            return list(zip(_choose(sub, index, branches, operands, k + 1), outs))

        other = t.subgraph("else_branch", [], rest)[0]
    then = _branch(t, branches[k], operands, "then_branch")
    return t.w.op("If", [is_k], len(outs), then_branch=then, else_branch=other)




@rule("while", onnx="Loop (condition computed before the loop and at the end of each body)")
def _while(t: Tracer, eqn, args: list[str]) -> list[str]:
    p = eqn.params
    nc, nb = int(p["cond_nconsts"]), int(p["body_nconsts"])
    cond_consts, body_consts, init = args[:nc], args[nc : nc + nb], args[nc + nb :]
    carry_avals = [v.aval for v in eqn.invars[nc + nb :]]
    go = t.run_closed(p["cond_jaxpr"], cond_consts + init)[0]

    def body(sub: Tracer, names: list[str]) -> list:
        new = sub.run_closed(p["body_jaxpr"], body_consts + names[2:])
        again = sub.run_closed(p["cond_jaxpr"], cond_consts + new)[0]
        return [(again, FLAG), *zip(new, carry_avals)]

    graph, _ = t.subgraph("while_body", loop_inputs(carry_avals), body)
    return t.w.op("Loop", ["", go, *init], len(init), body=graph)


@rule("scan", onnx="Loop over the length with scan outputs (reverse: Gather from the end + Slice)")
def _scan(t: Tracer, eqn, args: list[str]) -> list[str]:
    p = eqn.params
    length, reverse_order = int(p["length"]), bool(p["reverse"])
    n_consts, n_carry = int(p["num_consts"]), int(p["num_carry"])
    consts, init, xs = (
        args[:n_consts],
        args[n_consts : n_consts + n_carry],
        args[n_consts + n_carry :],
    )
    _, outs = _avals(p["jaxpr"])
    carry_avals, y_avals = outs[:n_carry], outs[n_carry:]

    def body(sub: Tracer, names: list[str]) -> list:
        step = names[0]
        if reverse_order:
            step = sub.op("Sub", [sub.const(length - 1, np.int64), step])
        x_t = [sub.op("Gather", [x, step], axis=0) for x in xs]
        new = sub.run_closed(p["jaxpr"], consts + names[2:] + x_t)
        go = sub.op("Identity", [names[1]])
        return [(go, FLAG), *zip(new[:n_carry], carry_avals), *zip(new[n_carry:], y_avals)]

    graph, _ = t.subgraph("scan_body", loop_inputs(carry_avals), body)
    trip = t.const(length, np.int64, "length")
    results = t.w.op("Loop", [trip, "", *init], n_carry + len(y_avals), body=graph)
    carry, ys = results[:n_carry], results[n_carry:]
    if reverse_order:
        ys = [reverse(t, y, [0]) for y in ys]
    return [*carry, *ys]
