"""Before/after of one runtime lever on one model: onnxruntime, axonnx without the
lever and axonnx with it, interleaved in blocks in one process (2 threads each).

    python benchmarks/levers.py MODEL.onnx --lever fast --batch 8 [--dims sequence=128]

Levers: `fast` (the engine's rewrites, `axonnx.engine.rewrites`), `libraries`
(`axonnx.engine.CPU_COMPILER_OPTIONS` against XLA's defaults). Each runs in blocks of five
timed runs after a warm-up (as `axonnx bench`). Prints the median latency of each and
the ratios to onnxruntime. Not a test.
"""

from __future__ import annotations

import argparse
import statistics

import jax
import onnxruntime as ort

from axonnx.converters.bench import interleaved
from axonnx.converters.inputs import make_inputs
from axonnx.converters.loading import load_model
from axonnx.converters.onnx_import import import_onnx
from axonnx.engine import Engine, inline_dispatch


def _variants(path: str, lever: str) -> dict:
    model, state = import_onnx(path)
    if lever == "fast":
        before = Engine(model, fast=False)
    elif lever == "libraries":
        before = Engine(model, compiler_options={})
    else:
        raise SystemExit(f"unknown lever {lever!r}")
    return {"before": (before, state), "after": (Engine(model), state)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--lever", default="fast")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dims", default="", help="e.g. sequence=128")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    inline_dispatch()
    dims = {"batch": args.batch}
    dims.update({k: int(v) for k, v in (p.split("=") for p in args.dims.split(",") if p)})
    proto = load_model(args.model)
    feed = make_inputs(proto, dims=dims)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
    session = ort.InferenceSession(proto.SerializeToString(), options)
    runners = {"onnxruntime": lambda: session.run(None, feed)}
    for name, (engine, state) in _variants(args.model, args.lever).items():
        runners[name] = lambda e=engine, s=state: jax.block_until_ready(e(s, feed))
    for run in runners.values():
        run()  # compiles
    print_medians(interleaved(runners, args.runs))


def print_medians(times: dict[str, list[float]]) -> None:
    """The median of each runner's times and its ratio to onnxruntime's."""
    ort_median = statistics.median(times["onnxruntime"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:12s} {median * 1e3:9.2f} ms  ratio to ORT {median / ort_median:.2f}×")


if __name__ == "__main__":
    main()
