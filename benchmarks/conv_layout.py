"""Before/after of the convolution layout levers: onnxruntime, the engine now (twice)
and the engine without one lever, in one process.

    python benchmarks/conv_layout.py ~/.cache/axonnx-bench/mobilenet_v3_large.onnx --batch 8
    python benchmarks/conv_layout.py MODEL.onnx --lever forms    # the previous NCHW forms

`--lever regions` (default) compiles "before" without the channels-last regions
(`axonnx.engine.channels_last`: each convolution transposes its input in and its result
out); `--lever forms` also patches in the NCHW pointwise and depthwise forms the engine
had before they moved to NHWC data. The runners take turns in blocks of five timed runs
after a pause and a warm-up (as `axonnx bench`), in the order onnxruntime, after, before,
after again; the two "after" rows show what is left of the position effect. Prints the
median of each and its ratio to onnxruntime. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib

from axonnx.engine import inline_dispatch

inline_dispatch()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import onnxruntime as ort  # noqa: E402
from levers import print_medians  # noqa: E402  (benchmarks/, the script's folder)

from axonnx.converters.bench import interleaved  # noqa: E402
from axonnx.converters.inputs import make_inputs  # noqa: E402
from axonnx.converters.loading import load_model  # noqa: E402
from axonnx.converters.onnx_import import import_onnx  # noqa: E402
from axonnx.engine import Engine, conv_forms, rewrites  # noqa: E402


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


@contextlib.contextmanager
def _without_regions():
    saved = rewrites.channels_last
    rewrites.channels_last = lambda root: root
    try:
        yield
    finally:
        rewrites.channels_last = saved


@contextlib.contextmanager
def _nchw_forms():
    saved = dict(conv_forms.FORMS)
    conv_forms.FORMS["matmul"] = saved["matmul_nchw"]
    conv_forms.FORMS["depthwise"] = (_depthwise_nchw, "nchw")
    try:
        with _without_regions():
            yield
    finally:
        conv_forms.FORMS.update(saved)


LEVERS = {"regions": _without_regions, "forms": _nchw_forms}


def _compiled_before(model, state, feed, lever: str):
    """An engine compiled without `lever` (a key of `LEVERS`)."""
    with LEVERS[lever]():
        engine = Engine(model)
        jax.block_until_ready(engine(state, feed))  # compiles now, without the lever
    return engine


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--lever", choices=sorted(LEVERS), default="regions")
    args = parser.parse_args(argv)
    proto = load_model(args.model)
    feed = make_inputs(proto, dims={"batch": args.batch})
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
    session = ort.InferenceSession(proto.SerializeToString(), options)
    model, state = import_onnx(args.model)
    before = _compiled_before(model, state, feed, args.lever)
    after, again = Engine(model), Engine(model)
    runners = {"onnxruntime": lambda: session.run(None, feed)}
    for name, engine in (("after", after), ("before", before), ("after again", again)):
        runners[name] = lambda e=engine: jax.block_until_ready(e(state, feed))
    print_medians(interleaved(runners, args.runs))


if __name__ == "__main__":
    main()
