"""Tokens per second of a 32-token greedy decode, axonnx (`ax.generate`, fixed-size
cache) against onnxruntime (the tests' loop, a cache that grows each step), measured in
one process in alternating blocks after a warm-up.

    python tests/generation/bench_generate.py [--blocks 5] [MODEL ...]

Each block times one whole decode (the prompt's step and 31 more) of each runtime;
the table gives the median and best tokens/s over the blocks and the ratio of the
medians (axonnx / onnxruntime).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import onnxruntime as ort

import axonnx as ax

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_generate import MODELS, NEW_TOKENS, PROMPT, ort_greedy  # noqa: E402


def _timed(run) -> float:
    start = time.perf_counter()
    run()
    return NEW_TOKENS / (time.perf_counter() - start)


def bench(name: str, blocks: int) -> dict[str, list[float]]:
    path = HERE / f"{name}.onnx"
    model, state = ax.import_onnx(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    runs = {
        "axonnx": lambda: ax.generate(model, state, PROMPT, max_new_tokens=NEW_TOKENS),
        "onnxruntime": lambda: ort_greedy(session, PROMPT, NEW_TOKENS),
    }
    for run in runs.values():  # warm-up (compilation)
        run()
    speeds = {k: [] for k in runs}
    for _ in range(blocks):
        for key, run in runs.items():
            speeds[key].append(_timed(run))
    return speeds


def main() -> None:
    names = [getattr(m, "values", (m,))[0] for m in MODELS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=names)
    parser.add_argument("--blocks", type=int, default=5)
    args = parser.parse_args()
    print("| model | axonnx tokens/s (median, best) | onnxruntime (median, best) | ratio |")
    print("|---|---|---|---|")
    for name in args.models:
        speeds = bench(name, args.blocks)
        ours, theirs = (statistics.median(speeds[k]) for k in ("axonnx", "onnxruntime"))
        best = {k: max(v) for k, v in speeds.items()}
        cells = f"{ours:.0f}, {best['axonnx']:.0f} | {theirs:.0f}, {best['onnxruntime']:.0f}"
        print(f"| {name} | {cells} | {ours / theirs:.2f} |", flush=True)


if __name__ == "__main__":
    main()
