"""The benchmark suite: axonnx vs onnxruntime (CPU, 2 threads each) on a fixed model set.

    python benchmarks/make_suite_models.py          # once: real-size models into the cache
    python benchmarks/suite.py [--models bert_base resnet50] [--batches 1 8] [--runs 20]
                               [--validate] [--out benchmarks/results]

Each (model, batch) runs in a fresh subprocess (so first-call time and peak memory are
its own) through `axonnx.converters.bench.bench`: onnxruntime and axonnx interleaved,
run by run. Writes `suite.md` (a markdown table) and `suite.json` into `--out`.

Columns: median and p90 latency of each; ratio = axonnx median / onnxruntime median
(< 1: axonnx faster); first call = load + first run (axonnx: import + compile + run);
peak RSS increase of each; GFLOP per inference (MatMul, Gemm, Conv, LSTM/GRU counted
from the ONNX graph with the shapes onnxruntime computes) and the share of the
machine's matmul peak that each runtime reaches: the best rate of a 2048² float32
matmul through NumPy and through onnxruntime (2 threads), measured at the start and the
end of the run. (On the 2-core build machine NumPy's OpenBLAS reaches ~255 GFLOP/s and
onnxruntime's MLAS ~450.) Not a test: timings vary with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS_DIR = HERE.parent / "models"
sys.path.insert(0, str(HERE))
from make_suite_models import DEFAULT_CACHE  # noqa: E402

SEQ = 128
# name → (file, dims other than batch)
SUITE = {
    "bert_base": ("{cache}/bert_base.onnx", {"sequence": SEQ}),
    "distilbert_base": ("{cache}/distilbert_base.onnx", {"sequence": SEQ}),
    "gpt2_small": ("{cache}/gpt2_small.onnx", {"sequence": SEQ}),
    "vit_base": ("{cache}/vit_base.onnx", {}),
    "resnet50": ("{cache}/resnet50.onnx", {}),
    "lstm_classifier": ("{cache}/lstm_classifier.onnx", {"sequence": SEQ}),
    "mnist_cnn": ("{cache}/mnist_cnn.onnx", {}),
    "models/bert_tiny_torchscript": ("{models}/bert_tiny_torchscript.onnx", {"sequence": SEQ}),
    "models/bert_tiny_dynamo": ("{models}/bert_tiny_dynamo.onnx", {"sequence": SEQ}),
    "models/lstm_classifier": ("{models}/lstm_classifier.onnx", {"sequence": SEQ}),
    "models/cnn": ("{models}/cnn.onnx", {}),
    "models/mlp": ("{models}/mlp.onnx", {}),
}


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """The machine's float32 matmul rate in GFLOP/s: the best of `repeats` matmuls
    through NumPy and through onnxruntime (2 threads)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    spec = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [size, size]) for n in "abc"]
    matmul = helper.make_node("MatMul", ["a", "b"], ["c"])
    graph = helper.make_graph([matmul], "mm", spec[:2], spec[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model.SerializeToString(), options)
    runs = {"numpy": lambda: a @ b, "onnxruntime": lambda: session.run(None, {"a": a, "b": b})}
    best = float("inf")
    for run in runs.values():
        run()
        best = min(best, *(_seconds(run) for _ in range(repeats)))
    return 2 * size**3 / best / 1e9


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def count_flops(path: str, feed: dict) -> float:
    """Floating-point operations of one inference on `feed`: 2·MACs of every MatMul,
    Gemm, Conv, LSTM and GRU (elementwise ops are not counted)."""
    import onnx
    import onnxruntime as ort

    proto = onnx.load(path)
    heavy = [n for n in proto.graph.node if n.op_type in _FLOP_RULES]
    names = {v for n in heavy for v in [*n.input, *n.output] if v}
    known = {o.name for o in proto.graph.output} | {i.name for i in proto.graph.initializer}
    for name in sorted(names - known):
        proto.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(proto.SerializeToString(), options)
    outputs = [o.name for o in session.get_outputs()]
    shapes = {n: np.shape(v) for n, v in zip(outputs, session.run(outputs, feed), strict=True)}
    shapes.update({t.name: tuple(t.dims) for t in proto.graph.initializer})
    shapes.update({k: np.shape(v) for k, v in feed.items()})
    return float(sum(_FLOP_RULES[n.op_type](n, shapes) for n in heavy))


def _matmul_flops(node, shapes) -> int:
    return 2 * int(np.prod(shapes[node.output[0]])) * shapes[node.input[0]][-1]


def _conv_flops(node, shapes) -> int:
    kernel = shapes[node.input[1]]  # (out, in / group, *window): MACs per output value
    return 2 * int(np.prod(shapes[node.output[0]])) * int(np.prod(kernel[1:]))


def _recurrent_flops(node, shapes) -> int:
    w, r = shapes[node.input[1]], shapes[node.input[2]]  # (dirs, gates·H, I), (.., H)
    steps, batch = shapes[node.input[0]][:2]
    return 2 * steps * batch * w[0] * w[1] * (w[2] + r[2])


_FLOP_RULES = {
    "MatMul": _matmul_flops,
    "Gemm": _matmul_flops,
    "Conv": _conv_flops,
    "LSTM": _recurrent_flops,
    "GRU": _recurrent_flops,
}


def worker(path: str, batch: int, dims: dict, runs: int, validate: bool, device: str) -> dict:
    """One (model, batch) measurement, run in its own process."""
    from axonnx.converters.bench import bench

    result = bench(path, batch=batch, dims=dims, runs=runs, threads=2, device=device)
    record = result.to_dict()
    record["gflop"] = count_flops(path, result.inputs) / 1e9
    if validate:
        from axonnx.converters.validate import validate as check

        report = check(path, result.inputs, providers=["cuda" if device == "gpu" else "cpu"])
        record["validate"] = bool(report.passed)
    return record


def _run_worker(path: str, batch: int, dims: dict, runs: int, validate: bool, device: str) -> dict:
    command = [sys.executable, __file__, "--worker", path, str(batch), json.dumps(dims)]
    command += ["--runs", str(runs), "--device", device] + (["--validate"] if validate else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(name: str, batch: int, r: dict, peak: float) -> str:
    """One markdown table row (shares of the peak use the best peak measured)."""
    if "error" in r:
        return f"| {name} | {batch} | error: {r['error'][:80]} |" + " |" * 9
    ax, ort = r["axonnx"], r["onnxruntime"]
    share = [f"{r['gflop'] / t['median'] / peak:.0%}" if peak else "–" for t in (ort, ax)]
    cells = [
        name,
        str(batch),
        f"{ort['median'] * 1e3:.2f} / {ort['p90'] * 1e3:.2f}",
        f"{ax['median'] * 1e3:.2f} / {ax['p90'] * 1e3:.2f}",
        f"**{r['ratio']:.2f}×**",
        f"{ort['first_call']:.2f} / {ax['first_call']:.2f}",
        f"{ort['peak_rss_increase_mib']:.0f} / {ax['peak_rss_increase_mib']:.0f}",
        f"{r['gflop']:.3g}",
        " / ".join(share),
        {True: "pass", False: "FAIL", None: "–"}[r.get("validate")],
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| model | batch | ORT median / p90 (ms) | axonnx median / p90 (ms) | ratio "
    "| first call ORT / axonnx (s) | peak RSS + ORT / axonnx (MiB) | GFLOP "
    "| % of matmul peak ORT / axonnx | validate |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", choices=list(SUITE), default=list(SUITE))
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--validate", action="store_true", help="also run ax.validate")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--device", choices=["cpu", "gpu"], default="cpu", help="gpu: CUDA provider vs JAX GPU"
    )
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        path, batch, dims = args.worker
        record = worker(path, int(batch), json.loads(dims), args.runs, args.validate, args.device)
        print(json.dumps(record))
        return
    if args.device == "gpu":
        from axonnx.converters.bench import gpu_missing

        if reason := gpu_missing():
            print(f"GPU suite skipped: {reason}")
            return
    # the matmul peak is the CPU's; GPU rows leave the share of the peak out
    peak = matmul_peak() if args.device == "cpu" else 0.0
    print(f"float32 matmul peak: {peak:.0f} GFLOP/s", flush=True)
    lines, records = [HEADER], []
    for name in args.models:
        template, dims = SUITE[name]
        path = template.format(cache=args.cache, models=MODELS_DIR)
        if not os.path.exists(path):
            print(f"{name}: {path} missing (run benchmarks/make_suite_models.py)", flush=True)
            continue
        for batch in args.batches:
            record = _run_worker(path, batch, dims, args.runs, args.validate, args.device)
            records.append({**record, "model": name, "batch": batch})
            lines.append(_row(name, batch, record, peak))
            print(lines[-1], flush=True)
    if peak:
        peak = max(peak, matmul_peak())  # again at the end: the machine may be busy
    lines[1:] = [_row(r["model"], r["batch"], r, peak) for r in records]
    _write(args.out, args.device, peak, lines, records)


def _write(out: Path, device: str, peak: float, lines: list[str], records: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = "suite" if device == "cpu" else f"suite_{device}"
    note = f"Device: {device}. Matmul peak (float32, best of NumPy and onnxruntime): "
    note += f"{peak:.0f} GFLOP/s.\n\n" if peak else "not measured.\n\n"
    (out / f"{stem}.md").write_text(note + "\n".join(lines) + "\n")
    document = {"device": device, "matmul_peak_gflops": peak, "results": records}
    (out / f"{stem}.json").write_text(json.dumps(document))
    print(f"wrote {out / stem}.md and .json")


if __name__ == "__main__":
    main()
