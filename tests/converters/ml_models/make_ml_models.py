"""Regenerates the ONNX-ML models of this folder and their test inputs.

Tiny, seeded models trained by scikit-learn, LightGBM and XGBoost and converted by
skl2onnx / onnxmltools; none of these libraries is needed to run the tests
(tests/converters/ops/test_ml_models.py compares axonnx with onnxruntime on the saved
inputs). Each model is `<name>.onnx` with its inputs in `<name>.npz` (arrays by graph
input name) or, for a model taking a map, `<name>.json` (a list of runs, each the
dict of inputs of one run).

    python -m venv /work/venv-ml && . /work/venv-ml/bin/activate
    pip install -e ".[test]" scikit-learn skl2onnx onnxmltools lightgbm xgboost
    python tests/converters/ml_models/make_ml_models.py
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OPSETS = {"": 17, "ai.onnx.ml": 3}
BOOSTER_OPSET = 15  # the newest onnxmltools converts LightGBM and XGBoost to
SEED = 0


def _data(n_classes: int, *, n_features: int = 4, n: int = 60, seed: int = SEED):
    """Standardized features (float32) and integer labels; 12 held-out rows to test on."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=n + 12,
        n_features=n_features,
        n_informative=n_features,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=1.0,
        random_state=seed,
    )
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    return x[:n], y[:n], x[n:]


def _regression(*, n_features: int = 4, n: int = 60, seed: int = SEED):
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=n + 12, n_features=n_features, noise=5.0, random_state=seed)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    y = (y - y.mean()) / y.std()
    return x[:n], y[:n], x[n:]


def _skl(model, n_features: int, *, zipmap: bool = False):
    """skl2onnx's model; classifiers without ZipMap unless `zipmap` (a tensor of
    probabilities instead of a list of dicts)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.base import is_classifier

    options = {id(model): {"zipmap": False}} if is_classifier(model) and not zipmap else None
    return to_onnx(
        model,
        initial_types=[("X", FloatTensorType([None, n_features]))],
        target_opset=OPSETS,
        options=options,
    )


def _save(name: str, onnx_model, inputs: dict | list) -> None:
    (HERE / f"{name}.onnx").write_bytes(onnx_model.SerializeToString())
    if isinstance(inputs, list):
        (HERE / f"{name}.json").write_text(json.dumps(inputs, indent=1) + "\n")
    else:
        np.savez(HERE / f"{name}.npz", **inputs)
    print(f"{name}: {len(onnx_model.SerializeToString())} bytes")


def svms() -> None:
    from sklearn.svm import SVC, SVR, NuSVC, NuSVR, OneClassSVM

    for n_classes in (2, 3):
        x, y, test = _data(n_classes)
        for kernel in ("linear", "rbf", "poly", "sigmoid"):
            for probability in (False, True):
                model = SVC(kernel=kernel, probability=probability, random_state=SEED, C=1.0)
                model.fit(x, y)
                name = f"svc_{kernel}_{n_classes}class{'_proba' if probability else ''}"
                _save(name, _skl(model, x.shape[1]), {"X": test})
    x, y, test = _data(3, seed=1)
    model = NuSVC(nu=0.3, probability=True, random_state=SEED).fit(x, y)
    _save("nusvc_rbf_3class_proba", _skl(model, x.shape[1]), {"X": test})
    model = NuSVC(nu=0.4, kernel="poly", degree=2, random_state=SEED).fit(x, y)
    _save("nusvc_poly_3class", _skl(model, x.shape[1]), {"X": test})
    x, y, test = _regression()
    for kernel in ("linear", "rbf", "poly"):
        model = SVR(kernel=kernel, C=2.0, epsilon=0.1).fit(x, y)
        _save(f"svr_{kernel}", _skl(model, x.shape[1]), {"X": test})
    model = NuSVR(nu=0.5, C=2.0).fit(x, y)
    _save("nusvr_rbf", _skl(model, x.shape[1]), {"X": test})
    x, _, test = _data(2, seed=2)
    model = OneClassSVM(nu=0.2, gamma="scale").fit(x)
    _save("one_class_svm", _skl(model, x.shape[1]), {"X": test})


def zipmaps() -> None:
    """Classifiers with skl2onnx's default output: labels and a list of dicts."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    x, y, test = _data(3, seed=3)
    model = SVC(kernel="rbf", probability=True, random_state=SEED).fit(x, y + 10)
    _save("svc_rbf_3class_zipmap", _skl(model, x.shape[1], zipmap=True), {"X": test})
    words = np.array(["ant", "bee", "cat"], dtype=object)[y]
    model = LogisticRegression(max_iter=500).fit(x, words)
    _save("logreg_strings_zipmap", _skl(model, x.shape[1], zipmap=True), {"X": test})


def dict_vectorizer() -> None:
    """DictVectorizer → LogisticRegression, one map(string, float) per run (as
    onnxruntime takes it), ZipMap output."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DictionaryType, FloatTensorType, StringTensorType
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(SEED)
    keys = ["age", "height", "income", "score", "weight"]

    def sample():
        chosen = rng.choice(keys, size=rng.integers(2, 5), replace=False)
        return {str(k): float(np.float32(rng.normal())) for k in chosen}

    train = [sample() for _ in range(60)]
    labels = [int(d.get("age", 0) + d.get("score", 0) > 0) for d in train]
    model = make_pipeline(DictVectorizer(sparse=False), LogisticRegression()).fit(train, labels)
    onnx_model = to_onnx(
        model,
        initial_types=[("X", DictionaryType(StringTensorType([1]), FloatTensorType([1])))],
        target_opset=OPSETS,
    )
    runs = [{"X": sample()} for _ in range(6)]
    runs.append({"X": {"age": 1.5, "unknown": 3.0}})  # a key outside the vocabulary
    _save("dict_vectorizer_logreg", onnx_model, runs)


def boosters() -> None:
    import lightgbm
    import onnxmltools
    import xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    types = [("X", FloatTensorType([None, 4]))]
    x, y, test = _data(3, seed=4)
    small = dict(n_estimators=8, num_leaves=7, min_child_samples=5, verbose=-1)
    model = lightgbm.LGBMClassifier(random_state=SEED, **small).fit(x, y)
    onnx_model = onnxmltools.convert_lightgbm(
        model, initial_types=types, target_opset=BOOSTER_OPSET
    )
    _save("lightgbm_classifier_3class", onnx_model, {"X": test})
    xb, yb, testb = _data(2, seed=5)
    model = lightgbm.LGBMClassifier(random_state=SEED, **small).fit(xb, yb)
    onnx_model = onnxmltools.convert_lightgbm(
        model, initial_types=types, target_opset=BOOSTER_OPSET, zipmap=False
    )
    _save("lightgbm_classifier_binary", onnx_model, {"X": testb})
    xr, yr, testr = _regression()
    model = lightgbm.LGBMRegressor(random_state=SEED, **small).fit(xr, yr)
    onnx_model = onnxmltools.convert_lightgbm(
        model, initial_types=types, target_opset=BOOSTER_OPSET
    )
    _save("lightgbm_regressor", onnx_model, {"X": testr})
    trees = dict(n_estimators=8, max_depth=3, random_state=SEED)
    model = xgboost.XGBClassifier(**trees).fit(x, y)
    onnx_model = onnxmltools.convert_xgboost(model, initial_types=types, target_opset=BOOSTER_OPSET)
    _save("xgboost_classifier_3class", onnx_model, {"X": test})
    model = xgboost.XGBRegressor(**trees).fit(xr, yr)
    onnx_model = onnxmltools.convert_xgboost(model, initial_types=types, target_opset=BOOSTER_OPSET)
    _save("xgboost_regressor", onnx_model, {"X": testr})


def versions() -> str:
    import lightgbm
    import onnx
    import onnxmltools
    import onnxruntime
    import skl2onnx
    import sklearn
    import xgboost

    parts = [sklearn, skl2onnx, onnxmltools, lightgbm, xgboost, onnx, onnxruntime]
    return ", ".join(f"{m.__name__} {m.__version__}" for m in parts)


def main() -> int:
    # SVC(probability=True) is deprecated from scikit-learn 1.9; its models still convert
    warnings.simplefilter("ignore", FutureWarning)
    for old in [*HERE.glob("*.onnx"), *HERE.glob("*.npz"), *HERE.glob("*.json")]:
        old.unlink()
    svms()
    zipmaps()
    dict_vectorizer()
    boosters()
    (HERE / "VERSIONS.txt").write_text(versions() + "\n")
    total = sum(p.stat().st_size for p in HERE.iterdir() if p.suffix in (".onnx", ".npz", ".json"))
    print(f"total {total} bytes; {versions()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
