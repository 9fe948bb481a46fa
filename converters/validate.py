"""Cross-checking axonnx against onnxruntime on the same inputs.

With a time limit (`validate(..., timeout=S)`, `axonnx validate --timeout S`) the
check runs in a worker process (`axonnx.converters.worker`) that is killed when one
of its steps runs past `S` seconds: axonnx's loading and import, onnxruntime's
session and run, axonnx's run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
import onnx

from axonnx.converters.error_profile import error_histogram, node_errors
from axonnx.converters.graph_import import onnx_value_name
from axonnx.converters.inputs import make_inputs
from axonnx.converters.judgement import (
    Judge,
    cut_at,
    judge_values,
    lowest_float_precision,
    runtime_quantizers,
)
from axonnx.converters.loading import load_model
from axonnx.converters.onnx_import import import_onnx
from axonnx.converters.ops.quantization import dynamic_quantize_linear
from axonnx.converters.ort_sessions import onnxruntime_session, run_options
from axonnx.converters.report import NodeReport, OutputReport, Report, RequantizationCheck
from axonnx.converters.worker import StepTimeoutError, run_in_worker
from axonnx.engine import engine_for
from axonnx.errors import InvalidModelError
from axonnx.node import Node
from axonnx.state import ModelState

__all__ = ["ValidationTimeoutError", "validate"]

ValidationTimeoutError = StepTimeoutError
"""A step of `validate` (axonnx or onnxruntime) ran past the `timeout`."""


def _no_step(step: str) -> None:
    """Where `validate` starts a step ("axonnx", "onnxruntime"); a worker reports it."""


_step: Callable[[str], None] = _no_step


def validate(
    source: str | os.PathLike | bytes | onnx.ModelProto,
    inputs: Mapping[str, Any] | None = None,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    dims: Mapping[str, int] | None = None,
    providers: Sequence[str] = ("cpu",),
    seed: int = 0,
    int_high: int | None = None,
    model: Node | None = None,
    params: ModelState | None = None,
    bisect: bool = False,
    fast: bool = False,
    timeout: float | None = None,
) -> Report:
    """Run an ONNX model in onnxruntime and in axonnx on the same inputs; compare.

    Args:
        source: the ONNX model (path, bytes or `ModelProto`).
        inputs: arrays by input name; generated from the input specs when None.
        rtol, atol: tolerances; by default per dtype (`report.default_tolerance`), the
            dtype being the lowest float precision the model computes in where that is
            below the output's (an fp16 model with float32 outputs: float16). Values a
            DequantizeLinear with a known scale made (QDQ models) also pass within one
            quantization step (that scale): onnxruntime's fused integer kernels round
            differently from the graph's dequantize -> float op -> quantize. Where
            outputs fail and the model quantizes activations at run time
            (DynamicQuantizeLinear, `quantize_dynamic`), validate replays the graph
            from onnxruntime's quantized activations (`report.requantization`): when
            axonnx then gives onnxruntime's outputs within tolerance and quantizes each
            activation within one step of onnxruntime, the outputs pass as "within
            run-time quantization". onnxruntime runs with `session.x64quantprecision`
            (exact uint8 x int8 products on x86 CPUs without VNNI).
        dims: sizes of symbolic dimensions for generated inputs (`{"batch": 2}`).
        providers: onnxruntime providers, `"cpu"` and/or `"cuda"`.
        seed, int_high: generated inputs' seed and integer bound (token ids below it).
        model, params: a converted model the user changed (fine-tuned, re-policied)
            to compare instead of a fresh import of `source`.
        bisect: also compare every intermediate value and name the first wrong node.
        fast: validate JAX's default (fast) matmul precision instead of the highest.
        timeout: seconds each step may take (axonnx's import, onnxruntime's run,
            axonnx's run); the check then runs in a separate process, killed past it
            with `ValidationTimeoutError`. None: no limit, in this process.

    Returns:
        A `Report`: per output the shapes, dtype, max abs/rel error, mismatch count and
        verdict; `report.passed` is the overall verdict.

    >>> report = ax.validate("models/cnn.onnx", dims={"batch": 2})   # doctest: +SKIP
    >>> report.passed                                               # doctest: +SKIP
    True
    """
    if timeout is not None:
        options = {"rtol": rtol, "atol": atol, "dims": dims, "providers": tuple(providers)}
        options |= {"seed": seed, "int_high": int_high, "bisect": bisect, "fast": fast}
        return _in_worker(source, inputs, options, model, params, timeout)
    _step("axonnx")
    proto = load_model(source)
    feed = (
        dict(inputs)
        if inputs is not None
        else make_inputs(proto, dims=dims, seed=seed, int_high=int_high)
    )
    if model is None:
        model, imported = import_onnx(proto, dims=dims)
        params = params or imported
    if params is None:
        raise ValueError("validate: pass params= together with model=")
    names = [o.name for o in proto.graph.output]
    wanted = _intermediate_names(proto) if bisect else []
    _step("onnxruntime")
    expected = _run_onnxruntime(proto, feed, names + wanted, providers)
    _step("axonnx")
    actual, kept = _run_axonnx(model, params, feed, bisect, fast)
    judge = judge_values(proto, rtol, atol)
    report = Report(_label(source), bisected=bisect, precision=lowest_float_precision(proto))
    report.outputs = [judge(n, expected[n], actual[n]) for n in names]
    report.histograms = {n: error_histogram(expected[n], actual[n]) for n in names}
    quantizers = runtime_quantizers(proto) if not report.passed else []
    if quantizers:
        run = (feed, providers, dims, fast)
        check = _replay(proto, quantizers, run, model, params, judge)
        report.requantization = check
        report.outputs = [_explained(o, check) for o in report.outputs]
    if bisect:
        report.first_wrong_node = _first_wrong(proto, expected, kept, judge)
        report.node_errors = node_errors(proto, expected, kept, judge)
    return report


def _replay(proto, quantizers, run: tuple, model, params, judge: Judge) -> RequantizationCheck:
    """Whether run-time quantization explains the outputs' differences: onnxruntime runs
    with the quantized activations (with their scales and zero points) exposed; the
    graph without the quantizers, fed those, runs in axonnx (with `params` where its
    layers have them), and axonnx quantizes its own values of the quantizers' inputs
    again to compare with onnxruntime's, in steps of their grids."""
    feed, providers, dims, fast = run
    names = [o.name for o in proto.graph.output]
    quantized = [o for n in quantizers for o in n.output if o]
    expected = _run_onnxruntime(proto, feed, names + quantized, providers)
    cut_model, cut_params = import_onnx(cut_at(proto, quantizers, expected), dims=dims)
    replay_feed = {**feed, **{name: expected[name] for name in quantized}}
    replayed, _ = _run_axonnx(cut_model, _overlay(cut_params, params), replay_feed, False, fast)
    replayed |= feed
    steps, scales = [], []
    for node in quantizers:
        y, scale, zero = (np.asarray(v) for v in dynamic_quantize_linear(replayed[node.input[0]]))
        steps += [_steps(expected[node.output[0]], y), _steps(expected[node.output[2]], zero)]
        scales.append(judge(node.output[1], expected[node.output[1]], scale).passed)
    return RequantizationCheck(
        len(quantizers),
        sum(int(np.size(expected[n.output[0]])) for n in quantizers),
        sum(one for one, _ in steps[::2]),
        max((largest for _, largest in steps), default=0.0),
        all(scales),
        [judge(n, expected[n], replayed[n]) for n in names],
    )


def _steps(expected: np.ndarray, actual) -> tuple[int, float]:
    """(elements one step apart, largest difference in steps) of two integer tensors."""
    if np.shape(actual) != np.shape(expected):
        return 0, float("inf")
    diff = np.abs(np.asarray(actual, np.int64) - np.asarray(expected, np.int64))
    return int((diff == 1).sum()), float(diff.max(initial=0))


def _overlay(fresh: ModelState, given: ModelState) -> ModelState:
    """`fresh`'s values, replaced by `given`'s where a layer of the same name has them
    (the cut graph's layers keep their names, so a changed model's weights carry over)."""

    def merge(base, other):
        if isinstance(base, dict) and isinstance(other, dict):
            return {k: merge(v, other[k]) if k in other else v for k, v in base.items()}
        same = np.shape(base) == np.shape(other) and not isinstance(other, dict)
        return other if same else base

    return ModelState(merge(fresh.params, given.params), merge(fresh.state, given.state))


def _explained(output: OutputReport, check: RequantizationCheck) -> OutputReport:
    """The output, passed as "within run-time quantization" where it failed and the
    replay explains it."""
    if output.passed or not check.passed:
        return output
    output.passed = output.requantized = True
    return output


def _label(source: Any) -> str:
    return str(source) if isinstance(source, str | os.PathLike) else "<model>"


def _intermediate_names(proto: onnx.ModelProto) -> list[str]:
    outputs = {o.name for o in proto.graph.output}
    return [o for node in proto.graph.node for o in node.output if o and o not in outputs]


def _run_onnxruntime(
    proto: onnx.ModelProto, feed: dict, names: list[str], providers: Sequence[str]
) -> dict[str, np.ndarray]:
    graph_outputs = {o.name for o in proto.graph.output}
    extra = [n for n in names if n not in graph_outputs]
    if extra:
        proto = _with_outputs(proto, extra)
    try:
        session = onnxruntime_session(proto.SerializeToString(), providers, _exact_options())
        wanted = [o.name for o in session.get_outputs()]
        return dict(zip(wanted, session.run(wanted, feed, run_options()), strict=True))
    except Exception as error:  # onnxruntime's errors share no useful base class
        first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise InvalidModelError(f"onnxruntime cannot run the model: {first}") from error


def _exact_options():
    """onnxruntime's session options for validating: `session.x64quantprecision=1`, so
    on x86 CPUs without VNNI its uint8 x int8 matrix products (MatMulInteger,
    DynamicQuantizeMatMul, QAttention, ...) are exact instead of saturating pairs of
    products to int16 (VPMADDUBSW) when int8 weights use the full range; onnxruntime
    leaves other CPUs alone."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.x64quantprecision", "1")
    return options


def _with_outputs(proto: onnx.ModelProto, extra: list[str]) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    inferred = onnx.shape_inference.infer_shapes(copy)
    typed = {v.name: v for v in inferred.graph.value_info}
    for name in extra:
        if name in typed and typed[name].type.tensor_type.elem_type:
            copy.graph.output.append(typed[name])
    return copy


def _run_axonnx(model: Node, params: ModelState, feed: dict, bisect: bool, fast: bool):
    precision = "default" if fast else "highest"
    engine = engine_for(model)  # the engine ax.predict uses
    with jax.default_matmul_precision(precision):
        outputs = engine(params, feed)
        kept = engine.intermediates(params, feed, onnx_value_name) if bisect else {}
    return {k: np.asarray(v) for k, v in outputs.items()}, kept


def _first_wrong(proto, expected, kept, judge) -> NodeReport | None:
    shapes = {name: list(np.shape(v)) for name, v in {**expected, **kept}.items()}
    opset = {imp.domain: imp.version for imp in proto.opset_import}.get("", None)
    for node in proto.graph.node:
        for output in node.output:
            if output not in expected or output not in kept:
                continue
            result = judge(output, expected[output], kept[output])
            if not result.passed:
                inputs = [shapes.get(i) for i in node.input]
                return NodeReport(node.name or output, node.op_type, opset, inputs, result)
    return None


def _in_worker(source, inputs, options: dict, model, params, timeout: float) -> Report:
    """`validate(source, inputs, **options)` in a worker process, each step limited to
    `timeout` seconds; raises what the worker raised."""
    job = {
        "source": _portable_source(source),
        "inputs": None if inputs is None else jax.tree_util.tree_map(np.asarray, dict(inputs)),
        "options": options,
        "model_file": None,
        "params": None,
    }
    with tempfile.TemporaryDirectory(prefix="axonnx-validate-") as folder:
        if model is not None:  # a Node cannot be pickled: it travels as a saved model
            from axonnx.serialization import save

            job["model_file"] = os.path.join(folder, "model.axonnx")
            save(job["model_file"], model, params)
            job["params_given"] = params is not None
        elif params is not None:
            job["params"] = jax.tree_util.tree_map(np.asarray, params)
        entry = "axonnx.converters.validate:_worker_validate"
        return run_in_worker(entry, job, timeout, _label(source))


def _portable_source(source) -> str | bytes:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    if isinstance(source, onnx.ModelProto):
        return source.SerializeToString()
    return bytes(source)


def _worker_validate(job: dict, step: Callable[[str], None]) -> Report:
    """The worker's side of `_in_worker`."""
    global _step
    _step = step
    model = params = None
    if job["model_file"] is not None:
        from axonnx.serialization import load

        model, params = load(job["model_file"], allow_custom=True)
        params = params if job.get("params_given") else None
    elif job["params"] is not None:
        params = jax.tree_util.tree_map(jax.numpy.asarray, job["params"])
    return validate(job["source"], job["inputs"], model=model, params=params, **job["options"])
