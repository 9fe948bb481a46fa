"""A call's fixed cost on small models: `ax.predict` against onnxruntime, one process.

onnxruntime (2 threads) and `ax.predict` take turns in blocks of 50 timed calls after
one warm-up call (`axonnx.converters.bench.interleaved`), on `models/mlp.onnx`, the
MNIST CNN (`models/cnn.onnx`, the suite's `mnist_cnn`), the tiny LSTM and BERT, and
scikit-learn models converted by skl2onnx here (random data, fixed seeds; skipped when
scikit-learn or skl2onnx is missing). `--before REV` also times the engine of git
revision REV (its `axonnx/engine/core.py`, loaded beside the current one) in the same
blocks, for before → after figures.

    python benchmarks/small_models.py --before 0892b43
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {
    "mlp": "mlp.onnx",
    "mnist_cnn": "cnn.onnx",
    "lstm_tiny": "lstm_classifier.onnx",
    "bert_tiny": "bert_tiny_torchscript.onnx",
}
SVC = ROOT / "tests" / "converters" / "ml_models" / "svc_rbf_3class.onnx"


def sklearn_models(folder: Path) -> dict[str, Path]:
    """LogisticRegression, a 20-tree RandomForest, StandardScaler+PCA and a depth-8
    DecisionTreeRegressor on 20 features, without ZipMap, written into `folder`."""
    try:
        from skl2onnx import to_onnx
        from sklearn.decomposition import PCA
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.tree import DecisionTreeRegressor
    except ImportError:
        return {}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 20)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1)
    models = {
        "skl_logreg": LogisticRegression(max_iter=500),
        "skl_forest": RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0),
        "skl_pca": make_pipeline(StandardScaler(), PCA(5)),
        "skl_tree": DecisionTreeRegressor(max_depth=8, random_state=0),
    }
    paths = {}
    for name, estimator in models.items():
        estimator.fit(x, y)
        options = (
            {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
        )
        proto = to_onnx(estimator, x[:1], options=options, target_opset={"": 17, "ai.onnx.ml": 3})
        paths[name] = folder / f"{name}.onnx"
        paths[name].write_bytes(proto.SerializeToString())
    return paths


def engine_at(revision: str) -> Callable:
    """`engine_for(model)` with the `Engine` class of `axonnx/engine/core.py` at git
    `revision` (the other modules are the current ones)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:axonnx/engine/core.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "core_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("core_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return functools.lru_cache(maxsize=16)(module.Engine)


def time_model(path: Path, batch: int, runs: int, before: Callable | None) -> dict[str, float]:
    """Median seconds a call: onnxruntime, `ax.predict` and, given, the earlier engine."""
    import jax
    import onnxruntime as ort

    import axonnx as ax
    from axonnx.converters.bench import interleaved, leading_dims
    from axonnx.converters.inputs import make_inputs
    from axonnx.converters.loading import load_model
    from axonnx.converters.ort_sessions import onnxruntime_session

    proto = load_model(path)
    feed = make_inputs(proto, dims={**leading_dims(proto, batch), "sequence": 16})
    model, state = ax.import_onnx(proto)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
    session = onnxruntime_session(proto.SerializeToString(), ["cpu"], options)
    runners = {
        "onnxruntime": lambda: session.run(None, feed),
        "after": lambda: jax.block_until_ready(ax.predict(model, state, feed)),
    }
    if before is not None:
        runners["before"] = lambda: jax.block_until_ready(before(model)(state, feed))
    times = interleaved(runners, runs, block=50)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    parser.add_argument("--before", help="git revision whose engine to time as 'before'")
    args = parser.parse_args(argv)
    from axonnx.engine import inline_dispatch

    inline_dispatch()  # as `axonnx bench` does: before JAX starts
    before = engine_at(args.before) if args.before else None
    with tempfile.TemporaryDirectory() as folder:
        paths = {n: ROOT / "models" / f for n, f in SHIPPED.items()}
        paths.update({**sklearn_models(Path(folder)), "skl_svc_rbf": SVC})
        print("| model | batch | onnxruntime (µs) | before (µs, ratio) | after (µs, ratio) |")
        print("|---|---|---|---|---|")
        for name, path in paths.items():
            for batch in args.batches:
                m = time_model(path, batch, args.runs, before)
                ort_us = m["onnxruntime"] * 1e6
                cells = [f"{m[k] * 1e6:.1f} ({m[k] / m['onnxruntime']:.2f}×)" for k in m]
                was = cells[2] if before else "–"
                print(f"| {name} | {batch} | {ort_us:.1f} | {was} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
