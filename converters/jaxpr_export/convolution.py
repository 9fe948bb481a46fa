"""conv_general_dilated, with the forms gradients produce: input (lhs) dilation,
negative padding, feature and batch groups, any dimension layout."""

from __future__ import annotations

import numpy as np

from axonnx.converters.jaxpr_export.shapes import dilate, pad_or_crop
from axonnx.converters.jaxpr_export.tracer import Tracer, rule


def _permute(t: Tracer, x: str, perm: list[int]) -> str:
    return x if perm == sorted(perm) else t.op("Transpose", [x], perm=perm)


@rule(
    "conv_general_dilated",
    onnx="Conv (Transposes to NC…/OI…; lhs dilation: interior Pad; negative padding: Slice; "
    "batch groups: Reshape + grouped Conv)",
)
def _conv(t: Tracer, eqn, args: list[str]) -> str:
    p = eqn.params
    lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
    lhs_shape = tuple(eqn.invars[0].aval.shape)
    x = _permute(t, args[0], list(lhs_spec))
    kernel = _permute(t, args[1], list(rhs_spec))
    shape = tuple(lhs_shape[a] for a in lhs_spec)
    x, shape = dilate(t, x, shape, [1, 1, *p["lhs_dilation"]])
    pads = [(int(lo), int(hi)) for lo, hi in p["padding"]]
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        x = pad_or_crop(
            t, x, shape, [(0, 0), (0, 0), *[(min(lo, 0), min(hi, 0)) for lo, hi in pads]]
        )
        pads = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    groups = int(p["feature_group_count"])
    batch_groups = int(p["batch_group_count"])
    if batch_groups > 1:
        t.static(eqn.invars[0].aval, "conv_general_dilated with batch groups")
        x = _batch_groups_to_features(t, x, shape, batch_groups)
        groups = batch_groups
    if eqn.invars[0].aval.dtype != eqn.invars[1].aval.dtype:
        kernel = t.cast(kernel, eqn.invars[0].aval.dtype)
    out = t.op(
        "Conv",
        [x, kernel],
        strides=[int(s) for s in p["window_strides"]],
        dilations=[int(d) for d in p["rhs_dilation"]],
        pads=[lo for lo, _ in pads] + [hi for _, hi in pads],
        group=groups,
    )
    inverse = [int(np.argsort(out_spec)[a]) for a in range(len(out_spec))]
    out = _permute(t, out, inverse)
    dtype = eqn.outvars[0].aval.dtype
    return out if dtype == eqn.invars[0].aval.dtype else t.cast(out, dtype)


def _batch_groups_to_features(t: Tracer, x: str, shape: tuple, groups: int) -> str:
    """XLA's batch groups as feature groups: [G·N, C, …] → [N, G·C, …]."""
    n, c, *spatial = shape
    x = t.op("Reshape", [x, t.ints([groups, n // groups, c, *spatial])])
    x = t.op("Transpose", [x], perm=[1, 0, *range(2, 3 + len(spatial))])
    return t.op("Reshape", [x, t.ints([n // groups, groups * c, *spatial])])
