"""Import speed and memory of a large model: `ax.import_onnx` vs `onnx.load`.

    python benchmarks/import_speed.py [MODEL.onnx] [--rounds 5]

Default model: BERT-base from `benchmarks/make_suite_models.py` (~420 MiB of weights).
Each measurement runs in a fresh subprocess (libraries imported first, not timed), the
two alternating round by round; reported: median wall time of each and their ratio
(goal ≤ 1.5×), and each one's peak RSS increase over the process's RSS before the call
against the model's weight bytes (goal < 2×). Also the first call of axonnx
(import + compile + run at batch 1, sequence 128). Not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_suite_models import DEFAULT_CACHE  # noqa: E402

_CHILD = r"""
import json, sys, time
import numpy as np, onnx, jax
import axonnx as ax
from axonnx.converters.inputs import make_inputs
path, what = sys.argv[1], sys.argv[2]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
before, start = rss(), time.perf_counter()
if what == "onnx.load":
    result = onnx.load(path)
else:
    result = ax.import_onnx(path)
seconds = time.perf_counter() - start
# VmHWM, not ru_maxrss: after fork + exec, ru_maxrss keeps the parent's high-water mark
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
peak = int(hwm.split()[1]) / 1024
record = {"seconds": seconds, "peak_increase_mib": peak - before, "after_mib": rss() - before}
if what == "first_call":
    proto = onnx.load(path, load_external_data=False)
    feed = make_inputs(proto, dims={"batch": 1, "sequence": 128})
    start = time.perf_counter()
    jax.block_until_ready(ax.predict(*result, feed))
    record["first_call"] = seconds + time.perf_counter() - start
print(json.dumps(record))
"""


def weight_bytes(path: str) -> int:
    """Bytes of the model's initializers."""
    import onnx

    proto = onnx.load(path)
    arrays = (onnx.numpy_helper.to_array(t) for t in proto.graph.initializer)
    return sum(a.nbytes for a in arrays)


def measure(path: str, what: str) -> dict:
    """One fresh-process measurement of `what` ("onnx.load", "import" or "first_call")."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, path, what], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=str(DEFAULT_CACHE / "bert_base.onnx"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-first-call", action="store_true")
    args = parser.parse_args(argv)
    weights = weight_bytes(args.model) / 2**20
    runs: dict[str, list[dict]] = {"onnx.load": [], "import": []}
    for _ in range(args.rounds):
        for what, records in runs.items():
            records.append(measure(args.model, what))
    load, imp = (statistics.median(r["seconds"] for r in runs[k]) for k in runs)
    peaks = {k: max(r["peak_increase_mib"] for r in v) for k, v in runs.items()}
    ratios = [i["seconds"] / o["seconds"] for o, i in zip(runs["onnx.load"], runs["import"])]
    summary = {
        "model": args.model,
        "weight_mib": weights,
        "onnx_load_s": load,
        "import_s": imp,
        "ratio_median_of_pairs": statistics.median(ratios),
        "peak_increase_mib": peaks,
        "peak_over_weights": {k: v / weights for k, v in peaks.items()},
    }
    if not args.no_first_call:
        summary["first_call_s"] = measure(args.model, "first_call")["first_call"]
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
