"""Writes onehot_logreg_strings.onnx: scikit-learn's OneHotEncoder + LogisticRegression on
string columns, converted by skl2onnx (classifier with ZipMap output). Needs scikit-learn
and skl2onnx; the test that reads the file needs neither.

    python tests/engine/data/make_string_pipeline.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skl2onnx import to_onnx
from skl2onnx.common.data_types import StringTensorType
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder


def main() -> None:
    rng = np.random.default_rng(0)
    colours, sizes = np.array(["red", "green", "blue"]), np.array(["s", "m", "l", "xl"])
    x = np.stack([rng.choice(colours, 80), rng.choice(sizes, 80)], axis=1).astype(object)
    y = ((x[:, 0] == "red") ^ (x[:, 1] == "xl")).astype(np.int64)
    pipeline = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    pipeline.fit(x, y)
    types = [("input", StringTensorType([None, 2]))]
    onnx_model = to_onnx(pipeline, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3})
    path = Path(__file__).with_name("onehot_logreg_strings.onnx")
    path.write_bytes(onnx_model.SerializeToString())


if __name__ == "__main__":
    main()
