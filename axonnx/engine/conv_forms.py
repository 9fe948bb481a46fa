"""Formulations of a 2-D convolution for XLA, chosen per shape at compile time.

The engine runs an imported channels-first (NCHW) convolution as `conv_hwio`, with
its kernel stored as HWIO (transposed once, outside the compiled function). The
shape class picks the form (`choose_form`), each measured against XLA's own
convolution with `benchmarks/conv_shapes.py` (table in docs/performance.md):

- `matmul`: pointwise (1×1, one group): a strided slice if strided, then one matmul
  over the channels, on NHWC data ((N·H·W, C) @ (C, O), the product the matmul
  library runs fastest; XLA's layout assignment drops most transposes between
  consecutive NHWC forms). `matmul_nchw` is the same on NCHW data ((O, C) @ (C, H·W)
  per image), for graphs whose grouped convolutions run on NCHW data (`layout`).
- `depthwise`: one input channel per group (depthwise, or a channel multiplier m):
  Σ over the kH·kW taps of a strided window × a per-channel weight, on NHWC data, its
  padded input and its result each computed once (`_materialized`). XLA's CPU
  convolution is 10–300× slower on these.
- `grouped`: other grouped convolutions (ResNeXt): per tap, one matmul batched over
  the groups, on NCHW data; XLA's convolution wins only on small images at batch > 1.
- `taps`: a dense convolution with few products per output (stems on 1–3 channels):
  Σ over taps and input channels of shifted slices, in NHWC.
- `xla`: everything else (dense 3×3, strided, dilated), XLA's convolution in NHWC,
  which is 1.3–2.7× faster than in NCHW.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from axonnx.layers._spatial import add_channel_bias, resolve_padding, same_totals
from axonnx.op_table import register_op

__all__ = [
    "CONV_HWIO",
    "ENTRIES_LIMIT",
    "FORMS",
    "GROUPED_XLA_SPATIAL",
    "LAYOUTS",
    "TAPS_LIMIT",
    "applicable",
    "choose_form",
    "conv_hwio",
    "few_taps",
    "forced_form",
    "to_layout",
    "to_layout_shape",
]

CONV_HWIO = "engine::conv_hwio"
_NHWC = lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
# A convolution runs as shifted slices when each output sums at most TAPS_LIMIT products
# (kH · kW · C/groups, C/groups ≥ 1) and the kernel has at most ENTRIES_LIMIT entries.
# Measured with XNNPACK convolutions, NHWC (µs, XLA → slices): 1→8 ch 3×3 at 28², batch 8:
# 89 → 14; 3→64 3×3 at 224², batch 1: 1246 → 1034; 4→16 3×3, batch 8: 219 → 95; but
# 8→16 3×3 (72 products) 68 → 91, 4→64 3×3 (2304 entries) 731 → 877.
TAPS_LIMIT = 36
ENTRIES_LIMIT = 2048
# A grouped convolution (C/groups > 1) at batch > 1 runs as XLA's convolution when its
# output has fewer than this many positions (H'·W'). Best of runs, ms, batch 8,
# grouped → XLA: ResNeXt 512 g32 at 14²: 239 → 108; 64 g4 at 28²: 75 → 44; but 128 g32
# at 56²: 846 → 2685. At batch 1 the grouped form wins on all four (2.2–8.4 vs 3.0–156).
GROUPED_XLA_SPATIAL = 56 * 56
# The layout pointwise convolutions compute in (`conv_hwio`'s `layout`): NHWC beside
# depthwise convolutions (NHWC), NCHW beside grouped ones (NCHW). Measured through
# `ax.predict`, ratio to onnxruntime, NCHW → NHWC pointwise and depthwise: MobileNetV3-L
# batch 8 3.68× → 2.87×, EfficientNet-B0 batch 1 3.46× → 3.03×; but ResNeXt-50 batch 1
# 2.33× → 2.60× (the transposes around each grouped convolution), and its grouped form
# on NHWC data was slower still (2.92×). See docs/performance.md.
LAYOUTS = ("nhwc", "nchw")

_forced: list[str] = []


@contextlib.contextmanager
def forced_form(form: str) -> Iterator[None]:
    """Within the block, convolutions traced (compiled) run as `form` (a key of `FORMS`)
    wherever it applies: to time or test one form. Compiled functions keep their form."""
    if form not in FORMS:
        raise ValueError(f"forced_form: expected one of {sorted(FORMS)}, got {form!r}")
    _forced.append(form)
    try:
        yield
    finally:
        _forced.pop()


def conv_hwio(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    strides: tuple[int, int] = (1, 1),
    padding="valid",
    kernel_dilation: tuple[int, int] = (1, 1),
    feature_group_count: int = 1,
    layout: str = "nhwc",
    input_layout: str = "nchw",
    output_layout: str = "nchw",
) -> jax.Array:
    """ONNX `Conv` on `x` (N, C, H, W) with `kernel` (kH, kW, C // groups, O): the
    result (N, O, H', W') equals `conv(x, kernel.transpose(3, 2, 0, 1), channels="first")`.

    The form its shape picks runs on NCHW or NHWC data (`layout`, one of `LAYOUTS`, is the
    one a pointwise convolution computes in). `input_layout` and `output_layout` say how
    `x` and the result are stored ("nhwc": transposed to (N, H, W, C), as the engine's
    channels-last regions carry them, `axonnx.engine.channels_last`); a transpose runs
    only where the stored layout differs from the form's."""
    strides, dilation = tuple(strides), tuple(kernel_dilation)
    groups = feature_group_count
    shape = to_layout_shape(x.shape, input_layout, "nchw")
    pads = resolve_padding(padding, same_totals(shape[2:], kernel.shape[:2], strides, dilation))
    dtype = jnp.result_type(x, kernel)
    x, kernel = x.astype(dtype), kernel.astype(dtype)
    form = choose_form(shape, kernel.shape, strides, pads, dilation, groups, layout)
    fn, computed = FORMS[form]
    y = fn(to_layout(x, input_layout, computed), kernel, strides, pads, dilation, groups)
    y = add_channel_bias(y, bias, "first" if computed == "nchw" else "last")
    return to_layout(y, computed, output_layout)


def to_layout(x: jax.Array, source: str, target: str) -> jax.Array:
    """4-D `x` stored in layout `source` ("nchw" or "nhwc"), stored in `target`."""
    if source == target:
        return x
    return jnp.transpose(x, _PERMUTATIONS[source, target])


def to_layout_shape(shape: tuple, source: str, target: str) -> tuple:
    """The shape `to_layout` gives an array of `shape`."""
    if source == target:
        return tuple(shape)
    return tuple(shape[axis] for axis in _PERMUTATIONS[source, target])


_PERMUTATIONS = {("nchw", "nhwc"): (0, 2, 3, 1), ("nhwc", "nchw"): (0, 3, 1, 2)}


def applicable(form: str, kernel_shape: tuple[int, ...], groups: int) -> bool:
    """Whether `form` computes a (kH, kW, C/groups, O) convolution with `groups` groups."""
    kh, kw, per_group, _ = kernel_shape
    if form in ("matmul", "matmul_nchw"):
        return (kh, kw) == (1, 1) and groups == 1
    if form == "depthwise":
        return per_group == 1 and groups > 1
    if form == "grouped":
        return groups > 1
    return True


def choose_form(
    x_shape, kernel_shape, strides, pads, dilation, groups: int, layout: str = "nhwc"
) -> str:
    """The form (a key of `FORMS`) for NCHW input `x_shape` and HWIO `kernel_shape`, with
    pointwise convolutions in `layout` (one of `LAYOUTS`)."""
    if layout not in LAYOUTS:
        raise ValueError(f"conv_hwio: expected layout in {LAYOUTS}, got {layout!r}")
    if _forced and applicable(_forced[-1], kernel_shape, groups):
        return _forced[-1]
    if applicable("matmul", kernel_shape, groups):
        return "matmul" if layout == "nhwc" else "matmul_nchw"
    if applicable("depthwise", kernel_shape, groups):
        return "depthwise"
    if groups > 1:
        rows, cols = _output_hw(x_shape[2:], kernel_shape[:2], strides, pads, dilation)
        small = rows * cols < GROUPED_XLA_SPATIAL
        return "xla" if x_shape[0] > 1 and small else "grouped"
    return "taps" if few_taps(kernel_shape) else "xla"


def few_taps(kernel_shape: tuple[int, ...]) -> bool:
    """Whether a (kH, kW, C/groups, O) convolution runs as shifted slices (see TAPS_LIMIT)."""
    kh, kw, per_group, _ = kernel_shape
    products = kh * kw * per_group
    return kh * kw > 1 and products <= TAPS_LIMIT and int(np.prod(kernel_shape)) <= ENTRIES_LIMIT


def _output_hw(hw, kernel_hw, strides, pads, dilation) -> tuple[int, int]:
    return tuple(
        (size + sum(pad) - (k - 1) * d - 1) // s + 1
        for size, k, s, pad, d in zip(hw, kernel_hw, strides, pads, dilation, strict=True)
    )


def _pad(y: jax.Array, pads, axes: tuple[int, int]) -> jax.Array:
    if all(tuple(p) == (0, 0) for p in pads):
        return y
    config = [(0, 0, 0)] * y.ndim
    for axis, (low, high) in zip(axes, pads, strict=True):
        config[axis] = (low, high, 0)
    return lax.pad(y, jnp.zeros((), y.dtype), config)


def _windows(y, kernel_hw, strides, pads, dilation, axes: tuple[int, int]):
    """`((i, j), window)` for every kernel tap: the strided slice of `y` padded along its
    spatial `axes` that tap multiplies."""
    y = _pad(y, pads, axes)
    rows, cols = _output_hw([y.shape[a] for a in axes], kernel_hw, strides, [(0, 0)] * 2, dilation)
    for i in range(kernel_hw[0]):
        for j in range(kernel_hw[1]):
            start, limit, step = [0] * y.ndim, list(y.shape), [1] * y.ndim
            firsts = (i * dilation[0], j * dilation[1])
            for axis, first, size, stride in zip(axes, firsts, (rows, cols), strides, strict=True):
                start[axis], limit[axis] = first, first + (size - 1) * stride + 1
                step[axis] = stride
            yield (i, j), lax.slice(y, start, limit, step)


def _matmul(y, kernel, strides, pads, dilation, groups: int) -> jax.Array:
    """Pointwise, NHWC: (pad,) strided slice, then (N·H·W, C) @ (C, O)."""
    y = _pad(y, pads, (1, 2))[:, :: strides[0], :: strides[1], :]
    return jnp.einsum("nhwc,co->nhwo", y, kernel[0, 0])


def _matmul_nchw(x, kernel, strides, pads, dilation, groups: int) -> jax.Array:
    """Pointwise, NCHW: (pad,) strided slice, then (O, C) @ (C, H·W) per image."""
    x = _pad(x, pads, (2, 3))[:, :, :: strides[0], :: strides[1]]
    return jnp.einsum("nchw,co->nohw", x, kernel[0, 0])


def _depthwise(y, kernel, strides, pads, dilation, groups: int) -> jax.Array:
    """One input channel per group, NHWC: Σ over taps of window × per-channel weight
    (each input channel repeated up front for a channel multiplier > 1)."""
    multiplier = kernel.shape[3] // groups
    if multiplier > 1:
        y = jnp.repeat(y, multiplier, axis=3)
    y = _materialized(_pad(y, pads, (1, 2)))
    total = None
    unpadded = [(0, 0)] * 2
    for (i, j), window in _windows(y, kernel.shape[:2], strides, unpadded, dilation, (1, 2)):
        term = window * kernel[i, j, 0][None, None, None, :]
        total = term if total is None else total + term
    return _materialized(total)


def _materialized(y: jax.Array) -> jax.Array:
    """`y`, computed into its own buffer: XLA's loop fusion otherwise recomputes a
    producer inside each consumer, i.e. the activation before a depthwise convolution
    once per tap (SiLU's exp 9 or 25 times in EfficientNet) and the whole Σ over taps
    again in a squeeze-excitation block's multiply (MobileNetV3)."""
    return lax.optimization_barrier(y)


def _grouped(x, kernel, strides, pads, dilation, groups: int) -> jax.Array:
    """Σ over taps of one matmul batched over the groups (C/g → O/g channels), NCHW."""
    kh, kw, per_group, out = kernel.shape
    weights = kernel.reshape(kh, kw, per_group, groups, out // groups)
    total = None
    for (i, j), window in _windows(x, (kh, kw), strides, pads, dilation, (2, 3)):
        n, _, h, w = window.shape
        window = window.reshape(n, groups, per_group, h, w)
        term = jnp.einsum("ngchw,cgo->ngohw", window, weights[i, j])
        total = term if total is None else total + term
    return total.reshape(total.shape[0], out, *total.shape[3:])


def _taps(y, kernel, strides, pads, dilation, groups: int) -> jax.Array:
    """NHWC convolution as Σ over kernel taps of (strided input slice × kernel row)."""
    _, _, per_group, out = kernel.shape
    total = None
    for (i, j), window in _windows(y, kernel.shape[:2], strides, pads, dilation, (1, 2)):
        for c in range(per_group):  # input channel c of every group, repeated per output
            row = kernel[i, j, c][None, None, None, :]
            term = jnp.repeat(window[..., c::per_group], out // groups, axis=-1) * row
            total = term if total is None else total + term
    return total


def _xla(y, kernel, strides, pads, dilation, groups: int) -> jax.Array:
    return lax.conv_general_dilated(y, kernel, strides, pads, (1, 1), dilation, _NHWC, groups)


FORMS = {  # name: (function, the layout it computes in)
    "matmul": (_matmul, "nhwc"),
    "matmul_nchw": (_matmul_nchw, "nchw"),
    "depthwise": (_depthwise, "nhwc"),
    "grouped": (_grouped, "nchw"),
    "taps": (_taps, "nhwc"),
    "xla": (_xla, "nhwc"),
}

register_op(CONV_HWIO, conv_hwio)
