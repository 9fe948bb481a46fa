"""Per-shape microbenchmark of one-Conv ONNX models: the engine's form against XLA's
convolution and onnxruntime's Conv, through `ax.predict`.

    python benchmarks/conv_shapes.py                          # every shape, batch 1 and 8
    python benchmarks/conv_shapes.py --only dw,grouped --batch 8
    python benchmarks/conv_shapes.py --forms auto,xla,grouped # one column per form

Shapes come from the zoo's models (NCHW, random weights, bias on): MobileNetV3-large,
EfficientNet-B0, LR-ASPP (its dilated depthwise), ResNeXt-50 32x4d, DenseNet-121 and
ResNet-50. `--forms` lists formulations of `axonnx.engine.conv_forms` (`auto` is the
engine's choice, the others forced with `conv_forms.forced_form` where they apply); a
form's output is checked against onnxruntime before it is timed. All runners take turns
in blocks of five calls after a warm-up, in one process, onnxruntime with 2 intra-op
threads. The table gives the best run of each (ms; on a shared machine the best is the
steadiest estimate) and each form's ratio to onnxruntime. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib

from axonnx.engine import inline_dispatch

inline_dispatch()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import ModelProto, TensorProto, helper, numpy_helper  # noqa: E402

import axonnx as ax  # noqa: E402
from axonnx.converters.bench import interleaved  # noqa: E402
from axonnx.engine import conv_forms  # noqa: E402

# (class, source, C_in, C_out, spatial, kernel, stride, groups, dilation)
SHAPES = [
    ("stem", "MNv3/EffNet stem 3→16 s2 at 224²", 3, 16, 224, 3, 2, 1, 1),
    ("dw", "MNv3-l dw 64 3×3 s2 at 112²", 64, 64, 112, 3, 2, 64, 1),
    ("dw", "EffNet dw 32 3×3 at 112²", 32, 32, 112, 3, 1, 32, 1),
    ("dw", "EffNet dw 144 3×3 at 56²", 144, 144, 56, 3, 1, 144, 1),
    ("dw", "MNv3-l dw 72 5×5 s2 at 56²", 72, 72, 56, 5, 2, 72, 1),
    ("dw", "EffNet dw 240 5×5 at 28²", 240, 240, 28, 5, 1, 240, 1),
    ("dw", "EffNet dw 480 3×3 at 14²", 480, 480, 14, 3, 1, 480, 1),
    ("dw", "EffNet dw 1152 5×5 at 7²", 1152, 1152, 7, 5, 1, 1152, 1),
    ("dw dilated", "LR-ASPP dw 960 5×5 dil 2 at 14²", 960, 960, 14, 5, 1, 960, 2),
    ("se", "EffNet SE 96→4 at 1²", 96, 4, 1, 1, 1, 1, 1),
    ("pw", "EffNet pw 16→96 at 112²", 16, 96, 112, 1, 1, 1, 1),
    ("pw", "MNv3-l pw 40→120 at 28²", 40, 120, 28, 1, 1, 1, 1),
    ("pw", "EffNet pw 1152→192 at 7²", 1152, 192, 7, 1, 1, 1, 1),
    ("pw", "DenseNet pw 512→128 at 28²", 512, 128, 28, 1, 1, 1, 1),
    ("pw strided", "ResNeXt down 512→1024 s2 at 28²", 512, 1024, 28, 1, 2, 1, 1),
    ("grouped", "ResNeXt 128 g32 at 56²", 128, 128, 56, 3, 1, 32, 1),
    ("grouped", "ResNeXt 512 g32 at 14²", 512, 512, 14, 3, 1, 32, 1),
    ("grouped", "ResNeXt 1024 g32 s2 at 14²", 1024, 1024, 14, 3, 2, 32, 1),
    ("dense 3×3", "DenseNet 128→32 at 56²", 128, 32, 56, 3, 1, 1, 1),
    ("dense 3×3", "ResNet-50 256 at 14²", 256, 256, 14, 3, 1, 1, 1),
    ("strided 3×3", "ResNet-50 128 s2 at 56²", 128, 128, 56, 3, 2, 1, 1),
    ("dilated 3×3", "256 dil 2 at 28²", 256, 256, 28, 3, 1, 1, 2),
]


def conv_model(c_in, c_out, size, k, stride, groups, dilation) -> ModelProto:
    """One Conv (bias on, "same" padding) on a (batch, c_in, size, size) input."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((c_out, c_in // groups, k, k)).astype(np.float32) * 0.1
    bias = rng.standard_normal(c_out).astype(np.float32)
    pad = dilation * (k - 1) // 2
    attrs = {"strides": [stride] * 2, "pads": [pad] * 4, "group": groups}
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], dilations=[dilation] * 2, **attrs)
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", c_in, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def chosen_form(shape, batch: int) -> str:
    """The form the engine picks for a row of SHAPES at `batch`."""
    _, _, c_in, c_out, size, k, stride, groups, dilation = shape
    pad = dilation * (k - 1) // 2
    return conv_forms.choose_form(
        (batch, c_in, size, size),
        (k, k, c_in // groups, c_out),
        (stride,) * 2,
        ((pad, pad),) * 2,
        (dilation,) * 2,
        groups,
    )


def _runner(proto: ModelProto, form: str, x: np.ndarray, expected: np.ndarray):
    """A timed call of `proto` compiled with `form`, its output checked first."""
    model, state = ax.import_onnx(proto)
    forcing = contextlib.nullcontext() if form == "auto" else conv_forms.forced_form(form)
    with forcing:  # the first call compiles, in the forced form
        got = np.asarray(ax.predict(model, state, {"x": x})["y"])
    error = float(np.abs(got - expected).max() / np.abs(expected).max())
    if error > 1e-4:
        raise AssertionError(f"{form}: relative error {error:.2e} against onnxruntime")
    return lambda: jax.block_until_ready(ax.predict(model, state, {"x": x}))


def measure(shape, batch: int, forms: list[str], runs: int) -> dict[str, float]:
    """Best time (ms) of each applicable form and of onnxruntime ("ORT") on `shape`."""
    _, _, c_in, c_out, size, k, stride, groups, dilation = shape
    proto = conv_model(c_in, c_out, size, k, stride, groups, dilation)
    x = np.random.default_rng(1).standard_normal((batch, c_in, size, size)).astype(np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
    session = ort.InferenceSession(proto.SerializeToString(), options)
    expected = session.run(None, {"x": x})[0]
    runners = {"ORT": lambda: session.run(None, {"x": x})}
    kernel = (k, k, c_in // groups, c_out)
    for form in forms:
        if form == "auto" or conv_forms.applicable(form, kernel, groups):
            runners[form] = _runner(proto, form, x, expected)
    times = interleaved(runners, runs)
    return {name: min(values) * 1e3 for name, values in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = ",".join(conv_forms.FORMS)
    parser.add_argument("--forms", default="auto,xla", help=f"comma list of auto,{names}")
    parser.add_argument("--batch", default="1,8", help="comma list of batch sizes")
    parser.add_argument("--only", default="", help="classes or substrings of the source")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    forms = args.forms.split(",")
    only = [o for o in args.only.split(",") if o]
    shapes = [s for s in SHAPES if not only or s[0] in only or any(o in s[1] for o in only)]
    times = " | ".join(f"{f} ms" for f in forms)
    ratios = " | ".join(f"{f} / ORT" for f in forms)
    print(f"| class | shape | batch | form chosen | {times} | ORT ms | {ratios} |")
    print("|" + "---|" * (5 + 2 * len(forms)))
    for batch in (int(b) for b in args.batch.split(",")):
        for shape in shapes:
            result = measure(shape, batch, forms, args.runs)
            ort_ms = result["ORT"]
            cells = " | ".join(f"{result[f]:.3f}" if f in result else "–" for f in forms)
            shares = " | ".join(f"{result[f] / ort_ms:.2f}×" if f in result else "–" for f in forms)
            row = f"| {shape[0]} | {shape[1]} | {batch} | {chosen_form(shape, batch)} | {cells}"
            print(f"{row} | {ort_ms:.3f} | {shares} |", flush=True)


if __name__ == "__main__":
    main()
