"""Benchmarking axonnx against onnxruntime on one model, interleaved in one process."""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from axonnx.compiler import init
from axonnx.converters.inputs import make_inputs
from axonnx.converters.loading import load_model
from axonnx.errors import DeviceUnavailableError
from axonnx.graph import apply_policy
from axonnx.policy import policy

# bfloat16 weights and compute, float32 outputs: the opt-in fast path for matmul-bound
# models, `apply_policy(model, BF16_MATMULS, only=["dense"])` then `init(model, state)`
# (which stores those weights in bfloat16 once, instead of casting them every call)
BF16_MATMULS = policy("bfloat16", "bfloat16", "float32")

__all__ = ["BF16_MATMULS", "BenchResult", "bench", "gpu_missing", "interleaved", "leading_dims"]


@dataclass
class Timing:
    """One runtime's figures, in seconds (memory in MiB)."""

    first_call: float
    median: float
    p90: float
    throughput: float
    peak_rss_increase_mib: float


@dataclass
class BenchResult:
    """axonnx and onnxruntime side by side; `ratio` = axonnx median / onnxruntime median."""

    model: str
    batch: int
    axonnx: Timing
    onnxruntime: Timing
    inputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    device: str = "cpu"

    @property
    def ratio(self) -> float:
        """How many times slower (>1) or faster (<1) axonnx is than onnxruntime."""
        return self.axonnx.median / self.onnxruntime.median

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        timings = {"axonnx": vars(self.axonnx), "onnxruntime": vars(self.onnxruntime)}
        header = {"model": self.model, "batch": self.batch, "device": self.device}
        return {**header, **timings, "ratio": self.ratio}

    def __str__(self) -> str:
        rows = [("", "first call", "median", "p90", "items/s", "peak RSS +")]
        for name, t in (("onnxruntime", self.onnxruntime), ("axonnx", self.axonnx)):
            rows.append(
                (
                    name,
                    f"{t.first_call * 1e3:.1f} ms",
                    f"{t.median * 1e3:.3f} ms",
                    f"{t.p90 * 1e3:.3f} ms",
                    f"{t.throughput:.1f}",
                    f"{t.peak_rss_increase_mib:.0f} MiB",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [f"{self.model} (batch {self.batch})"]
        lines += ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        lines.append(f"  ratio axonnx / onnxruntime (median): {self.ratio:.2f}x")
        return "\n".join(lines)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


# seconds of rest before each block: onnxruntime's worker threads spin on after its last
# call and slowed the block right after them even past the warm-up call (two copies of
# one engine in turns with onnxruntime: 13.1 ms after it, 12.3 ms after the other copy)
BLOCK_PAUSE = 0.02


def interleaved(
    runners: Mapping[str, Callable[[], Any]],
    runs: int,
    block: int = 5,
    pause: float = BLOCK_PAUSE,
) -> dict[str, list[float]]:
    """`runs` timed calls of each runner, the runners taking turns in blocks: a `pause`
    (seconds), one untimed warm-up call, then up to `block` timed calls (why: `bench`)."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    done = 0
    while done < runs:
        timed = min(block, runs - done)
        for name, fn in runners.items():
            time.sleep(pause)
            fn()
            times[name] += [_timed(fn)[1] for _ in range(timed)]
        done += timed
    return times


def _summary(first: float, times: list[float], batch: int, memory: float) -> Timing:
    median = statistics.median(times)
    p90 = float(np.percentile(times, 90))
    return Timing(first, median, p90, batch / median, memory)


def bench(
    path: str | os.PathLike,
    *,
    batch: int = 1,
    dims: Mapping[str, int] | None = None,
    runs: int = 20,
    threads: int = 2,
    inputs: Mapping[str, Any] | None = None,
    inline: bool = True,
    block: int = 5,
    device: str = "cpu",
    bf16: bool = False,
) -> BenchResult:
    """Time axonnx and onnxruntime on the same inputs, in interleaved blocks.

    Each round runs onnxruntime `block` times, then axonnx `block` times, until each
    has `runs` timed runs; each block starts after a short pause (`BLOCK_PAUSE`) and
    a warm-up run, not timed. onnxruntime's idle worker threads spin for a while after
    `run` returns, so a run that follows straight after one of the other runtime's pays
    for that (measured on BERT-base at batch 1: axonnx 1.40× strictly alternating, 1.05×
    in blocks, 1.11× each alone). Blocks keep the interleaving, so load on the machine
    hits both.

    First call is load + first run (for axonnx: import + compile + run). `batch` binds
    the leading symbolic dimension of every input (named in `dims` or not). `inline`
    runs JAX's CPU computations in the calling thread, as onnxruntime does
    (`axonnx.engine.inline_dispatch`; process-wide, effective only if JAX
    has not started yet).

    `device="gpu"` compares onnxruntime's CUDA provider with JAX on the GPU, both
    taking host inputs and returning host outputs; it raises `DeviceUnavailableError`
    (with `gpu_missing()`'s reason) where there is no GPU. `bf16=True` times axonnx
    with `BF16_MATMULS` applied (dense layers compute in bfloat16, accumulate in
    float32); onnxruntime stays float32.
    """
    import onnxruntime as ort

    from axonnx.converters.onnx_import import import_onnx
    from axonnx.converters.ort_sessions import PROVIDERS, onnxruntime_session
    from axonnx.engine import inline_dispatch, predict

    if device not in ("cpu", "gpu"):
        raise ValueError(f"bench: device must be 'cpu' or 'gpu', not {device!r}")
    provider = PROVIDERS["cuda" if device == "gpu" else "cpu"]
    if device == "gpu" and (reason := gpu_missing()):
        raise DeviceUnavailableError(f"bench on the GPU: {reason}")
    if inline:
        inline_dispatch()

    proto = load_model(path)
    sizes = {"batch": batch, **leading_dims(proto, batch), **dict(dims or {})}
    feed = dict(inputs) if inputs is not None else make_inputs(proto, dims=sizes)
    before = _peak_rss_mib()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1

    def load_ort():
        session = onnxruntime_session(proto.SerializeToString(), [provider], options)
        if session.get_providers()[0] != provider:
            raise DeviceUnavailableError(f"onnxruntime did not start {provider}")
        session.run(None, feed)
        return session

    session, ort_first = _timed(load_ort)
    after_ort = _peak_rss_mib()

    target = jax.devices(device)[0]

    def load_axonnx():
        with jax.default_device(target):
            model, state = import_onnx(proto)
            if bf16:
                model = apply_policy(model, BF16_MATMULS, only=["dense"])
                state = init(model, state)
            jax.block_until_ready(predict(model, state, feed))
        return model, state

    (model, state), ax_first = _timed(load_axonnx)

    def run_axonnx():  # the path users call
        if device == "cpu":  # device arrays are host memory already
            return jax.block_until_ready(predict(model, state, feed))
        with jax.default_device(target):  # outputs to the host, as onnxruntime's
            return jax.device_get(predict(model, state, feed))

    after_ax = _peak_rss_mib()
    times = interleaved(
        {"onnxruntime": lambda: session.run(None, feed), "axonnx": run_axonnx}, runs, block
    )
    return BenchResult(
        str(path),
        batch,
        _summary(ax_first, times["axonnx"], batch, after_ax - after_ort),
        _summary(ort_first, times["onnxruntime"], batch, after_ort - before),
        feed,
        device,
    )


def gpu_missing() -> str | None:
    """Why axonnx and onnxruntime cannot both run on a GPU here; None when they can."""
    import onnxruntime as ort

    from axonnx.converters.ort_sessions import PROVIDERS

    try:
        jax.devices("gpu")
    except RuntimeError:
        return "JAX sees no GPU (a CUDA GPU and `pip install axonnx[cuda]` are needed)"
    if PROVIDERS["cuda"] not in ort.get_available_providers():
        return "this onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)"
    return None


def leading_dims(proto, batch: int) -> dict[str, int]:
    """`batch` for the name of every input's symbolic leading dimension; an unnamed
    one (skl2onnx's `None`) is named `""`, which binds every unnamed dimension."""
    from axonnx.converters.inputs import graph_inputs

    names = {}
    for info in graph_inputs(proto):
        dims = info.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            names[dims[0].dim_param] = batch
    return names
