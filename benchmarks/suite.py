"""The benchmark suite: axonnx vs onnxruntime (CPU, 2 threads each) on a fixed model set.

    python benchmarks/make_suite_models.py          # once: real-size models into the cache
    python benchmarks/suite.py [--models bert_base resnet50 | zoo | core] [--batches 1 8]
                               [--runs 20] [--validate] [--timeout 900] [--out benchmarks/results]

Each (model, batch) runs in a fresh subprocess (so first-call time and peak memory are
its own) through `axonnx.converters.bench.bench`: onnxruntime and axonnx interleaved,
run by run. Writes `suite.md` (a markdown table) and `suite.json` into `--out`.
`--models` takes names and the groups `core` (the first set) and `zoo` (the wider set
of `make_zoo_vision.py` / `make_zoo_text.py`). A model that fails (its export, axonnx's
import or run, a timeout, a mismatch) gets its error in its row and the suite goes on.

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
# as make_suite_models.py's (not imported from it: that needs torch, the suite does not)
DEFAULT_CACHE = Path(os.environ.get("AXONNX_BENCH_CACHE", "~/.cache/axonnx-bench")).expanduser()

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
CORE = list(SUITE)
ZOO = {
    "mobilenet_v3_large": ("{cache}/mobilenet_v3_large.onnx", {}),
    "efficientnet_b0": ("{cache}/efficientnet_b0.onnx", {}),
    "convnext_tiny": ("{cache}/convnext_tiny.onnx", {}),
    "resnext50_32x4d": ("{cache}/resnext50_32x4d.onnx", {}),
    "densenet121": ("{cache}/densenet121.onnx", {}),
    "lraspp_mobilenet_v3": ("{cache}/lraspp_mobilenet_v3.onnx", {}),
    "ssdlite320_mobilenet_v3": ("{cache}/ssdlite320_mobilenet_v3.onnx", {}),
    "swin_tiny": ("{cache}/swin_tiny.onnx", {}),
    "t5_small": ("{cache}/t5_small.onnx", {"sequence": SEQ, "decoder_sequence": SEQ}),
    "llama_small": ("{cache}/llama_small.onnx", {"sequence": SEQ}),
    "bert_4l_int8": ("{cache}/bert_4l_int8.onnx", {"sequence": SEQ}),
    "random_forest": ("{cache}/random_forest.onnx", {}),
}
SUITE.update(ZOO)
GROUPS = {"core": CORE, "zoo": list(ZOO)}
# models whose export fixes the batch: name → (the batch, why)
FIXED_BATCH = {
    "ssdlite320_mobilenet_v3": (
        1,
        "the export takes one image (torchvision's detection transform loops over the "
        "images in Python, so the trace fixes their number)",
    ),
}

# inputs that are images in [0, 1] (torchvision's detectors expect them): standard-normal
# noise, the generated default, drives SSDLite's scores to 0.95-1.0, where near-tied
# detections swap places on float32 noise and an elementwise comparison cannot pass
# (file stem → image inputs)
IMAGE_INPUTS = {"ssdlite320_mobilenet_v3": ("image",)}


def _feed(path: str, batch: int, dims: dict) -> dict | None:
    """The inputs of a run: None (bench generates them) unless the model takes images."""
    images = IMAGE_INPUTS.get(Path(path).stem)
    if images is None:
        return None
    import onnx

    from axonnx.converters.inputs import make_inputs

    feed = make_inputs(onnx.load(path, load_external_data=False), dims={"batch": batch, **dims})
    rng = np.random.default_rng(0)
    for key in images:
        feed[key] = rng.random(feed[key].shape, dtype=np.float32)
    return feed


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

    feed = _feed(path, batch, dims)
    result = bench(path, batch=batch, dims=dims, runs=runs, threads=2, device=device, inputs=feed)
    record = result.to_dict()
    try:
        record["gflop"] = count_flops(path, result.inputs) / 1e9
    except Exception as e:  # noqa: BLE001  (e.g. a graph onnxruntime cannot run unoptimised)
        record["gflop"] = None
        record["gflop_error"] = _one_line(e)
    if validate:
        from axonnx.converters.validate import validate as check

        try:
            report = check(path, result.inputs, providers=["cuda" if device == "gpu" else "cpu"])
        except Exception as e:  # noqa: BLE001  (the timing stands; the check's error is kept)
            record["validate"] = None
            record["validate_error"] = _one_line(e)
        else:
            record["validate"] = bool(report.passed)
            record["validate_outputs"] = [
                {k: getattr(o, k) for k in ("name", "max_abs_error", "mismatches", "passed")}
                for o in report.outputs
            ]
    return record


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".strip()


def _run_worker(
    path: str, batch: int, dims: dict, runs: int, validate: bool, device: str, timeout: float
) -> dict:
    command = [sys.executable, __file__, "--worker", path, str(batch), json.dumps(dims)]
    command += ["--runs", str(runs), "--device", device] + (["--validate"] if validate else [])
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout: no result within {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": _last_error(done.stderr) or f"worker exited with {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _last_error(stderr: str) -> str:
    """The exception line of a traceback (the last line naming an error), else the last line."""
    lines = [line.strip() for line in (stderr or "").strip().splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Interrupt")) or head.startswith("jax"):
            return line
    return lines[-1] if lines else ""


def _export_error(path: str) -> str | None:
    error = Path(path + ".error")
    return error.read_text().strip().splitlines()[0] if error.exists() else None


def _row(name: str, batch: int, r: dict, peak: float) -> str:
    """One markdown table row (shares of the peak use the best peak measured)."""
    if "error" in r or "skipped" in r:
        text = f"error: {r['error']}" if "error" in r else f"skipped: {r['skipped']}"
        return f"| {name} | {batch} | {_cell(text)[:300]} |" + " |" * 7
    ax, ort = r["axonnx"], r["onnxruntime"]
    gflop = r.get("gflop")
    share = [f"{gflop / t['median'] / peak:.0%}" if peak and gflop else "–" for t in (ort, ax)]
    cells = [
        name,
        str(batch),
        f"{ort['median'] * 1e3:.2f} / {ort['p90'] * 1e3:.2f}",
        f"{ax['median'] * 1e3:.2f} / {ax['p90'] * 1e3:.2f}",
        f"**{r['ratio']:.2f}×**",
        f"{ort['first_call']:.2f} / {ax['first_call']:.2f}",
        f"{ort['peak_rss_increase_mib']:.0f} / {ax['peak_rss_increase_mib']:.0f}",
        f"{gflop:.3g}" if gflop else "–",
        " / ".join(share),
        _verdict(r),
    ]
    return "| " + " | ".join(cells) + " |"


def _verdict(r: dict) -> str:
    if "validate_error" in r:
        return _cell(f"error: {r['validate_error']}")[:300]
    verdict = {True: "pass", False: "FAIL", None: "–"}[r.get("validate")]
    if verdict == "FAIL":
        wrong = [o for o in r.get("validate_outputs", []) if not o["passed"]]
        verdict += (
            " ("
            + ", ".join(
                f"{o['name']}: max abs {o['max_abs_error']:.3g}, {o['mismatches']} off"
                for o in wrong
            )
            + ")"
        )
    return _cell(verdict)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


HEADER = (
    "| model | batch | ORT median / p90 (ms) | axonnx median / p90 (ms) | ratio "
    "| first call ORT / axonnx (s) | peak RSS + ORT / axonnx (MiB) | GFLOP "
    "| % of matmul peak ORT / axonnx | validate |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="*",
        choices=[*SUITE, *GROUPS],
        default=list(SUITE),
        help="model names and groups (core, zoo); default: all",
    )
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--validate", action="store_true", help="also run ax.validate")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--device", choices=["cpu", "gpu"], default="cpu", help="gpu: CUDA provider vs JAX GPU"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds per (model, batch)")
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
    names = [m for name in args.models for m in GROUPS.get(name, [name])]
    for name in dict.fromkeys(names):
        template, dims = SUITE[name]
        path = template.format(cache=args.cache, models=MODELS_DIR)
        if not os.path.exists(path):
            if reason := _export_error(path):
                records.append({"error": f"export failed: {reason}", "model": name, "batch": "–"})
                lines.append(_row(name, "–", records[-1], peak))
            print(f"{name}: {path} missing (run benchmarks/make_suite_models.py)", flush=True)
            continue
        for batch in args.batches:
            fixed, why = FIXED_BATCH.get(name, (batch, ""))
            if batch != fixed:
                record = {"skipped": f"batch {fixed} only: {why}"}
            else:
                record = _run_worker(
                    path, batch, dims, args.runs, args.validate, args.device, args.timeout
                )
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
