"""Before/after of the convolution layout lever (pointwise and depthwise forms on NHWC
data, the depthwise input and result computed once): onnxruntime, the engine now
(twice) and the engine with the previous NCHW forms, in one process.

    python benchmarks/conv_layout.py ~/.cache/axonnx-bench/mobilenet_v3_large.onnx --batch 8

The runners take turns in blocks of five timed runs after a warm-up (as `axonnx bench`),
in the order onnxruntime, a 20 ms pause, after, before, after again: onnxruntime's
worker threads keep spinning after a call and slow whatever runs next (~10% here), and
the two "after" rows show what is left of that position effect. Prints the median of
each and its ratio to onnxruntime. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time

from axonnx.engine import inline_dispatch

inline_dispatch()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import onnxruntime as ort  # noqa: E402

from axonnx.converters.bench import interleaved  # noqa: E402
from axonnx.converters.inputs import make_inputs  # noqa: E402
from axonnx.converters.loading import load_model  # noqa: E402
from axonnx.converters.onnx_import import import_onnx  # noqa: E402
from axonnx.engine import Engine, conv_forms  # noqa: E402


def _depthwise_nchw(x, kernel, strides, pads, dilation, groups):
    """The previous depthwise form: Σ over taps on NCHW data, nothing materialized."""
    multiplier = kernel.shape[3] // groups
    if multiplier > 1:
        x = jnp.repeat(x, multiplier, axis=1)
    total = None
    for (i, j), window in conv_forms._windows(x, kernel.shape[:2], strides, pads, dilation, (2, 3)):
        term = window * kernel[i, j, 0][None, :, None, None]
        total = term if total is None else total + term
    return total


def _compiled_before(model, state, feed):
    """An engine compiled with the previous forms (NCHW pointwise and depthwise)."""
    saved = dict(conv_forms.FORMS)
    conv_forms.FORMS["matmul"] = saved["matmul_nchw"]
    conv_forms.FORMS["depthwise"] = (_depthwise_nchw, "nchw")
    try:
        engine = Engine(model)
        jax.block_until_ready(engine(state, feed))  # compiles now, with those forms
    finally:
        conv_forms.FORMS.update(saved)
    return engine


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    proto = load_model(args.model)
    feed = make_inputs(proto, dims={"batch": args.batch})
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
    session = ort.InferenceSession(proto.SerializeToString(), options)
    model, state = import_onnx(args.model)
    before, after, again = _compiled_before(model, state, feed), Engine(model), Engine(model)
    runners = {"onnxruntime": lambda: session.run(None, feed), "pause": lambda: time.sleep(0.02)}
    for name, engine in (("after", after), ("before", before), ("after again", again)):
        runners[name] = lambda e=engine: jax.block_until_ready(e(state, feed))
    times = interleaved(runners, args.runs)
    ort_median = statistics.median(times["onnxruntime"])
    for name, values in times.items():
        if name != "pause":
            median = statistics.median(values)
            print(f"{name:12s} {median * 1e3:9.2f} ms  ratio to ORT {median / ort_median:.2f}×")


if __name__ == "__main__":
    main()
