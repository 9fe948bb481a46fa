"""Node counts after axonnx's import simplification, next to onnx-simplifier and OnnxSlim.

    python benchmarks/simplify_counts.py models/*.onnx ~/.cache/axonnx-bench/*.onnx

Prints one markdown row per model: the file's top-level nodes, what `ax.import_onnx`
keeps (`model.meta["onnx_simplified"]`), onnxsim's and onnxslim's results (each run
with its defaults; "error" when it fails), and whether `ax.validate` passes on the
simplified import. Needs onnxsim and onnxslim (in /work/venv-torch).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import onnx

import axonnx as ax


def _onnxsim(path: Path) -> str:
    import onnxsim

    try:
        model, ok = onnxsim.simplify(onnx.load(str(path)))
    except Exception as error:  # noqa: BLE001  (a tool's failure is a table entry)
        return f"error ({type(error).__name__})"
    return str(len(model.graph.node)) if ok else "unchecked"


def _onnxslim(path: Path) -> str:
    import onnxslim

    try:
        return str(len(onnxslim.slim(onnx.load(str(path))).graph.node))
    except Exception as error:  # noqa: BLE001
        return f"error ({type(error).__name__})"


def row(path: Path) -> str:
    """One markdown row for the model at `path`."""
    start = time.perf_counter()
    model, _ = ax.import_onnx(str(path))
    seconds = time.perf_counter() - start
    counts = model.meta["onnx_simplified"]
    report = ax.validate(str(path), dims={"batch": 1, "sequence": 16}, timeout=900)
    verdict = "pass" if report.passed else "FAIL"
    return (
        f"| {path.stem} | {counts['nodes_before']} | {counts['nodes_after']} | "
        f"{_onnxsim(path)} | {_onnxslim(path)} | {verdict} | {seconds:.2f} |"
    )


def main(paths: list[str]) -> None:
    print("| model | nodes in file | axonnx import | onnxsim | onnxslim | validate | import s |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for path in paths:
        print(row(Path(path)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
