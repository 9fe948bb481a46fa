"""A zoo of one small model per exporter family, checked against onnxruntime (issue 14, part 7).

    python benchmarks/zoo.py build [--only family,...] [--out DIR]   # venv with the exporters
    python benchmarks/zoo.py check [--out DIR] [--results FILE]

`build` writes DIR/<family>.onnx and DIR/manifest.json (family, exporter, library
versions, file, or the build error). `check` runs each built model through
`ax.import_onnx` + `ax.predict` and onnxruntime on the same random inputs and writes
benchmarks/results/zoo.json: match / mismatch (max abs error) / import error / run error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "zoo.json"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "axonnx_zoo"
# symbolic dims of the exporters' inputs (decode steps: 2 new tokens after 3 cached)
DIMS = {"batch": 2, "sequence": 2, "past_sequence": 3, "total_sequence": 5}
_NUMPY = {1: np.float32, 6: np.int32, 7: np.int64, 10: np.float16, 11: np.float64}


def _version(module: str) -> str:
    try:
        return str(importlib.import_module(module).__version__)
    except Exception:  # noqa: BLE001  (absent, or failing to import)
        return "absent"


def build(out: Path, only: list[str] | None = None) -> list[dict]:
    """Build each family's model into `out`; returns (and writes) the manifest."""
    sys.path.insert(0, str(HERE))
    from zoo_families import FAMILIES  # noqa: PLC0415

    out.mkdir(parents=True, exist_ok=True)
    listing = out / "manifest.json"
    kept = json.loads(listing.read_text()) if only and listing.exists() else []
    manifest = [e for e in kept if e["family"] not in only and e["family"] in FAMILIES]
    for family, (exporter, modules, make) in FAMILIES.items():
        if only and family not in only:
            continue
        entry = {"family": family, "exporter": exporter, "builder": make.__name__}
        start = time.perf_counter()
        try:
            make(out / f"{family}.onnx")
            entry["file"] = f"{family}.onnx"
        except Exception as error:  # noqa: BLE001  (a missing library is a result too)
            entry["build_error"] = _one_line(error)
        entry["build_s"] = round(time.perf_counter() - start, 1)
        entry["versions"] = {m: _version(m) for m in modules}  # after the build: torchvision
        print(json.dumps(entry), flush=True)
        manifest.append(entry)
    order = list(FAMILIES)
    manifest.sort(key=lambda e: order.index(e["family"]))
    listing.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    return text[:300]


def inputs_for(session) -> dict[str, np.ndarray]:
    """Random inputs for an onnxruntime session's inputs: ids in [0, 50), masks of ones."""
    rng = np.random.default_rng(0)
    feeds = {}
    for value in session.get_inputs():
        shape = [d if isinstance(d, int) else DIMS.get(d, 2) for d in value.shape]
        dtype = {
            "tensor(float)": np.float32,
            "tensor(int64)": np.int64,
            "tensor(int32)": np.int32,
            "tensor(float16)": np.float16,
        }[value.type]
        if np.issubdtype(dtype, np.integer):
            data = np.ones(shape) if "mask" in value.name else rng.integers(0, 50, shape)
            if "token_type" in value.name:
                data = np.zeros(shape)
        else:
            data = rng.standard_normal(shape)
        feeds[value.name] = data.astype(dtype)
    return feeds


def _as_array(value) -> np.ndarray:
    """An output as an array; a ZipMap's sequence of maps becomes rows of its values by key."""
    if isinstance(value, list):
        return np.array([[row[k] for k in sorted(row)] for row in value], np.float32)
    return np.asarray(value)


def check_model(path: Path, rtol: float = 1e-3, atol: float = 1e-4) -> dict:
    """Import and predict `path` with axonnx and onnxruntime; compare every output."""
    import onnxruntime as ort  # noqa: PLC0415

    import axonnx as ax  # noqa: PLC0415

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = inputs_for(session)
    names = [o.name for o in session.get_outputs()]
    expected = dict(zip(names, session.run(None, feeds), strict=True))
    try:
        model, state = ax.import_onnx(str(path))
    except Exception as error:  # noqa: BLE001
        return {"status": "import error", "message": _one_line(error)}
    try:
        got = ax.predict(model, state, feeds)
    except Exception as error:  # noqa: BLE001
        return {"status": "run error", "message": _one_line(error)}
    half = (
        any(getattr(v, "dtype", None) == np.float16 for v in expected.values())
        or "float16" in path.name
    )
    worst, ok = 0.0, set(got) == set(expected)
    for name, want in expected.items():
        want, have = _as_array(want), _as_array(got.get(name, np.empty(0)))
        if want.shape != have.shape:
            ok = False
        elif want.dtype.kind in "fc":
            err = float(np.max(np.abs(want.astype(np.float64) - have), initial=0.0))
            tol = (atol + rtol * float(np.max(np.abs(want), initial=0.0))) * (10 if half else 1)
            worst, ok = max(worst, err), ok and err <= tol
        else:
            ok = ok and bool(np.all(want == have))
    return {"status": "match" if ok else "mismatch", "max_abs_error": worst}


def check(out: Path, results: Path = RESULTS) -> list[dict]:
    """Check every model of `out`'s manifest; write `results`."""
    manifest = json.loads((out / "manifest.json").read_text())
    rows = []
    for entry in manifest:
        row = {k: entry[k] for k in ("family", "exporter", "versions")}
        if "build_error" in entry:
            row |= {"status": "build error", "message": entry["build_error"]}
        else:
            start = time.perf_counter()
            try:
                row |= check_model(out / entry["file"])
            except Exception as error:  # noqa: BLE001  (onnxruntime itself refused it)
                row |= {"status": "onnxruntime error", "message": _one_line(error)}
                traceback.print_exc()
            row["check_s"] = round(time.perf_counter() - start, 1)
        print(json.dumps(row), flush=True)
        rows.append(row)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command line: build or check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--only", default="", help="comma-separated families")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.out, [f for f in args.only.split(",") if f] or None)
    else:
        check(args.out, args.results)


if __name__ == "__main__":
    main()
