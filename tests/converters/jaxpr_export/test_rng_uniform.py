"""rng_uniform, XLA's stateful generator, promises a distribution, not bits: the exported
graph (opset 21: onnxruntime has no newer RandomUniform) in onnxruntime draws from
[a, b) uniformly (Kolmogorov-Smirnov distance below the 0.1% critical value) and, like
XLA, differently on every run."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from jax import lax

import axonnx as ax
from axonnx.converters.jaxpr_export.random_bits import RANDOM_OPSET
from axonnx.errors import UnsupportedOpError

COUNT = 20_000
KS_CRITICAL = 1.95 / np.sqrt(COUNT)
"""The Kolmogorov-Smirnov distance a uniform sample of COUNT exceeds with probability 0.1%."""


def _draws(low, high, runs: int = 2) -> list[np.ndarray]:
    fn = lambda a, b: lax.rng_uniform(a, b, (COUNT // 100, 100))  # noqa: E731
    proto = ax.export_function(fn, low, high, opset=RANDOM_OPSET)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    feeds = dict(zip(names, [np.asarray(low), np.asarray(high)]))
    return [session.run(None, feeds)[0] for _ in range(runs)]


def _ks_distance(sample: np.ndarray, cdf) -> float:
    x = np.sort(sample.ravel().astype(np.float64))
    ranks = np.arange(1, x.size + 1) / x.size
    f = cdf(x)
    return float(max(np.abs(ranks - f).max(), np.abs(ranks - 1 / x.size - f).max()))


def test_floats_are_uniform_on_the_half_open_interval():
    low, high = np.float32(-1.5), np.float32(2.5)
    first, second = _draws(low, high)
    assert first.dtype == np.float32 and first.shape == (COUNT // 100, 100)
    assert first.min() >= low and first.max() < high
    assert _ks_distance(first, lambda x: (x - low) / (high - low)) < KS_CRITICAL
    assert not np.array_equal(first, second)  # a new draw each run, as XLA's


def test_integers_take_each_value_of_the_range_equally_often():
    low, high = np.int32(-3), np.int32(4)
    first, second = _draws(low, high)
    assert first.dtype == np.int32
    counts = np.bincount(first.ravel() - low, minlength=7)
    assert counts.size == 7  # nothing outside [low, high)
    expected = COUNT / 7
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 22.46  # the 0.1% critical value of chi-squared with 6 degrees of freedom
    assert not np.array_equal(first, second)


def test_a_newer_opset_says_which_to_use():
    with pytest.raises(UnsupportedOpError, match=f"export with opset={RANDOM_OPSET}"):
        ax.export_function(lambda a, b: lax.rng_uniform(a, b, (3,)), np.float32(0), np.float32(1))
